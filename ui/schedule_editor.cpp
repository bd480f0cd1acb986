#include "schedule_editor.h"

#include "schedule_chart.h"
#include "schedule_table_model.h"

#include "family/family.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTabBar>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

#include <cmath>

namespace swd::ui {

namespace {

QToolButton* toolButton(const QString& icon, const QString& text, const QString& tip, QWidget* parent) {
    auto* b = new QToolButton(parent);
    b->setIcon(QIcon(icon));
    b->setText(text);
    b->setToolTip(tip);
    b->setToolButtonStyle(Qt::ToolButtonIconOnly);
    b->setAutoRaise(true);
    return b;
}

QString formatMs(double ms) {
    if (ms < 1000.0) return QObject::tr("%1 ms").arg(ms, 0, 'f', 0);
    return QObject::tr("%1 s").arg(ms / 1000.0, 0, 'f', ms < 10000.0 ? 1 : 0);
}

}  // namespace

ScheduleEditor::ScheduleEditor(const QString& presetFolder, QWidget* parent)
    : QWidget(parent), m_presets(std::make_unique<PresetStore>(presetFolder)) {
    m_models[0] = new ScheduleTableModel(this);
    m_models[1] = new ScheduleTableModel(this);
    m_models[0]->setObjectName(QStringLiteral("swdScheduleModel"));
    m_models[1]->setObjectName(QStringLiteral("fullScheduleModel"));
    buildUi();
    for (ScheduleTableModel* m : m_models) {
        connect(m, &ScheduleTableModel::scheduleChanged, this, [this] {
            updateStatus();
            Q_EMIT schedulesChanged();
        });
        connect(m, &ScheduleTableModel::validityChanged, this, [this] {
            updateStatus();
            Q_EMIT schedulesChanged();
        });
        connect(m, &QAbstractItemModel::modelReset, this, [this] {
            syncFieldsFromModel();
            updateStatus();
            Q_EMIT schedulesChanged();
        });
    }
    // The default: the first scale-wise built-in and its comparison.
    QString first;
    for (const Schedule& s : m_presets->all())
        if (s.sampler == SamplerKind::ScaleWise) {
            first = QString::fromStdString(s.id);
            break;
        }
    if (first.isEmpty() || !loadPreset(first)) {
        setSchedule(Slot::Swd, makeFullResolutionSchedule(4, 3.0, 64, 1.0, 256));
        setSchedule(Slot::Full, makeFullResolutionSchedule(28, 3.0, 64, 4.5, 256));
    }
    bindCurrentSlot();
}

ScheduleEditor::~ScheduleEditor() = default;

void ScheduleEditor::buildUi() {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->setSpacing(4);

    buildSlotTabs(layout);
    buildPresetRow(layout);
    buildFieldsRow(layout);
    buildGeneratorRow(layout);
    buildDdpmRow(layout);
    buildRowTools(layout);
    buildTableAndChart(layout);
    addTableShortcuts();

    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("scheduleStatus"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_status);

    fillPresetCombo();
    connect(m_tabs, &QTabBar::currentChanged, this, [this] { bindCurrentSlot(); });
}

// The two slots' tabs: which schedule the table and the chart edit.
void ScheduleEditor::buildSlotTabs(QVBoxLayout* layout) {
    m_tabs = new QTabBar(this);
    m_tabs->setObjectName(QStringLiteral("scheduleTabs"));
    m_tabs->addTab(tr("SwD schedule"));
    m_tabs->addTab(tr("Full-resolution schedule"));
    m_tabs->setTabToolTip(0, tr("The few-step scale-wise schedule that \"Generate SwD\" runs"));
    m_tabs->setTabToolTip(1,
                          tr("The classic full-resolution schedule that \"Generate full resolution\" runs"));
    m_tabs->setToolTip(tr("Which schedule the table and the chart edit"));
    m_tabs->setExpanding(false);
    m_tabs->setDrawBase(false);
    layout->addWidget(m_tabs);
}

// The preset picker with its save and delete buttons.
void ScheduleEditor::buildPresetRow(QVBoxLayout* layout) {
    auto* presetRow = new QHBoxLayout;
    presetRow->setSpacing(2);
    auto* presetLabel = new QLabel(tr("&Preset:"), this);
    m_presetCombo = new QComboBox(this);
    m_presetCombo->setObjectName(QStringLiteral("presetCombo"));
    m_presetCombo->setToolTip(
        tr("Built-in and your own schedules. A SwD preset also loads the full-resolution "
           "schedule it is compared with."));
    m_presetCombo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_presetCombo->setMinimumContentsLength(14);
    presetLabel->setBuddy(m_presetCombo);
    m_savePreset = toolButton(QStringLiteral(":/icons/save-preset.svg"), tr("Save preset…"),
                              tr("Save the schedule shown as one of your presets"), this);
    m_savePreset->setObjectName(QStringLiteral("savePresetButton"));
    m_deletePreset =
        toolButton(QStringLiteral(":/icons/delete.svg"), tr("Delete preset"),
                   tr("Delete the selected preset (only your own presets can be deleted)"), this);
    m_deletePreset->setObjectName(QStringLiteral("deletePresetButton"));
    presetRow->addWidget(presetLabel);
    presetRow->addWidget(m_presetCombo, 1);
    presetRow->addWidget(m_savePreset);
    presetRow->addWidget(m_deletePreset);
    layout->addLayout(presetRow);
    connect(m_presetCombo, qOverload<int>(&QComboBox::activated), this, [this](int i) {
        const QString id = m_presetCombo->itemData(i).toString();
        if (loadPreset(id)) Q_EMIT presetChosen(id);
    });
    connect(m_savePreset, &QToolButton::clicked, this, &ScheduleEditor::askSavePreset);
    connect(m_deletePreset, &QToolButton::clicked, this, &ScheduleEditor::deletePreset);
}

// The current slot's sampler, guidance and T5 length.
void ScheduleEditor::buildFieldsRow(QVBoxLayout* layout) {
    auto* fields = new QHBoxLayout;
    fields->setSpacing(4);
    m_sampler = new QComboBox(this);
    m_sampler->setObjectName(QStringLiteral("samplerCombo"));
    fillSamplers(ModelFamily::Any);
    m_sampler->setToolTip(
        tr("Scale-wise: predict x0, upscale it and re-noise at every step (SwD). "
           "Flow Euler: classic Euler steps at one size. SD1.5 / SDXL: SiD's few steps on DDPM "
           "timesteps (no CFG), or the pipelines' Euler discrete with CFG."));
    m_guidance = new QDoubleSpinBox(this);
    m_guidance->setObjectName(QStringLiteral("guidanceSpin"));
    m_guidance->setRange(0.0, 30.0);
    m_guidance->setSingleStep(0.5);
    m_guidance->setDecimals(2);
    m_guidance->setPrefix(tr("CFG "));
    m_guidance->setToolTip(
        tr("Classifier-free guidance scale. Above 1 every step runs the model twice and the "
           "negative prompt is used; SwD presets use 1."));
    m_t5Length = new QSpinBox(this);
    m_t5Length->setObjectName(QStringLiteral("t5LengthSpin"));
    m_t5Length->setRange(1, 512);
    m_t5Length->setPrefix(tr("T5 "));
    m_t5Length->setToolTip(
        tr("T5 tokens in the text context (SwD was trained with 512; the SD3 pipeline uses 256). "
           "Settings can override it for every run."));
    fields->addWidget(m_sampler, 1);
    fields->addWidget(m_guidance);
    fields->addWidget(m_t5Length);
    layout->addLayout(fields);
    connect(m_sampler, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        if (!m_syncing) model(currentSlot())->setSampler(SamplerKind(m_sampler->currentData().toInt()));
    });
    connect(m_guidance, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this](double v) {
        if (!m_syncing) model(currentSlot())->setGuidance(v);
    });
    connect(m_t5Length, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) {
        if (!m_syncing) model(currentSlot())->setT5Length(v);
    });
}

// Steps, shift and scale to regenerate a full-resolution σ grid (shown in the full-resolution slot).
void ScheduleEditor::buildGeneratorRow(QVBoxLayout* layout) {
    m_generatorRow = new QWidget(this);
    auto* gen = new QHBoxLayout(m_generatorRow);
    gen->setContentsMargins(0, 0, 0, 0);
    gen->setSpacing(4);
    m_genSteps = new QSpinBox(m_generatorRow);
    m_genSteps->setObjectName(QStringLiteral("generatorSteps"));
    m_genSteps->setRange(1, 200);
    m_genSteps->setValue(28);
    m_genSteps->setSuffix(tr(" steps"));
    m_genSteps->setToolTip(tr("Number of Euler steps of the generated σ grid"));
    m_genShift = new QDoubleSpinBox(m_generatorRow);
    m_genShift->setObjectName(QStringLiteral("generatorShift"));
    m_genShift->setRange(0.1, 20.0);
    m_genShift->setSingleStep(0.5);
    m_genShift->setValue(3.0);
    m_genShift->setPrefix(tr("shift "));
    m_genShift->setToolTip(tr("Flow-matching shift of the σ grid (SD3.5 uses 3)"));
    m_genScale = new QSpinBox(m_generatorRow);
    m_genScale->setObjectName(QStringLiteral("generatorScale"));
    m_genScale->setRange(2, 1024);
    m_genScale->setSingleStep(2);
    m_genScale->setValue(128);
    m_genScale->setPrefix(tr("scale "));
    m_genScale->setToolTip(tr("Latent side of every step (image side = 8 × scale)"));
    m_genApply = new QPushButton(tr("&Regenerate"), m_generatorRow);
    m_genApply->setObjectName(QStringLiteral("generatorApply"));
    m_genApply->setToolTip(
        tr("Replace the rows with diffusers' flow-matching σ grid for these steps, shift and scale"));
    gen->addWidget(m_genSteps);
    gen->addWidget(m_genShift);
    gen->addWidget(m_genScale);
    gen->addWidget(m_genApply);
    layout->addWidget(m_generatorRow);
    connect(m_genApply, &QPushButton::clicked, this, &ScheduleEditor::regenerateFullGrid);
}

// SD1.5 / SDXL: SiD's t_init, trained grid K, run steps and noise mode; Euler discrete's steps. Each
// change regenerates the timesteps (an edited list is replaced).
void ScheduleEditor::buildDdpmRow(QVBoxLayout* layout) {
    m_ddpmRow = new QWidget(this);
    m_ddpmRow->setObjectName(QStringLiteral("ddpmRow"));
    auto* row = new QHBoxLayout(m_ddpmRow);
    row->setContentsMargins(0, 0, 0, 0);
    row->setSpacing(4);
    auto spin = [this](const char* name, int lo, int hi, const QString& tip) {
        auto* b = new QSpinBox(m_ddpmRow);
        b->setObjectName(QString::fromLatin1(name));
        b->setRange(lo, hi);
        b->setKeyboardTracking(false);  // regenerate once the number is typed, not per digit
        b->setToolTip(tip);
        connect(b, qOverload<int>(&QSpinBox::valueChanged), this, [this] {
            if (!m_syncing) applyDdpmGrid();
        });
        return b;
    };
    m_sidTInit =
        spin("sidTInit", 1, 999,
             tr("SiD's first timestep t_init: step k runs at t = t_init·(1 − k/K) (SiD-LSG uses 625)"));
    m_sidTInit->setPrefix(tr("t_init "));
    m_sidGrid = spin("sidGridSteps", 1, kMaxScheduleSteps,
                     tr("The grid K the generator was trained on (its number of steps)"));
    m_sidGrid->setPrefix(tr("grid K "));
    m_ddpmSteps = spin("ddpmSteps", 1, kMaxScheduleSteps,
                       tr("Steps run. SiD: at most K; fewer stops early on the trained grid, each step's x0 "
                          "being an image"));
    m_ddpmSteps->setSuffix(tr(" steps"));
    m_earlyExit = new QLabel(tr("early exit"), m_ddpmRow);
    m_earlyExit->setObjectName(QStringLiteral("sidEarlyExit"));
    m_earlyExit->setToolTip(tr("Fewer steps than the trained grid: the run stops early on that grid"));
    m_sidNoise = new QComboBox(m_ddpmRow);
    m_sidNoise->setObjectName(QStringLiteral("sidNoise"));
    m_sidNoise->setToolTip(
        tr("What steps after the first re-noise with: fresh noise (SiD-LSG), the initial "
           "noise again, or the previous step's noise estimate (DDIM-like)"));
    for (const auto& e : KindTable<SidNoise>::entries) {
        m_sidNoise->addItem(QString::fromLatin1(e.id), int(e.value));
        m_sidNoise->setItemData(m_sidNoise->count() - 1, QString::fromLatin1(e.name), Qt::ToolTipRole);
    }
    connect(m_sidNoise, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        if (!m_syncing) model(currentSlot())->setSidNoise(SidNoise(m_sidNoise->currentData().toInt()));
    });
    m_customTimesteps = new QLabel(tr("custom timesteps"), m_ddpmRow);
    m_customTimesteps->setObjectName(QStringLiteral("customTimesteps"));
    m_customTimesteps->setToolTip(
        tr("The timesteps were edited: the preset saves them as listed. Changing t_init, K or the steps "
           "regenerates them."));
    for (QWidget* w : std::initializer_list<QWidget*>{m_sidTInit, m_sidGrid, m_ddpmSteps, m_earlyExit,
                                                      m_sidNoise, m_customTimesteps})
        row->addWidget(w);
    row->addStretch(1);
    layout->addWidget(m_ddpmRow);
}

void ScheduleEditor::applyDdpmGrid() {
    ScheduleTableModel* m = model(currentSlot());
    if (m->sampler() == SamplerKind::Sid)
        m->setSidGrid(m_sidTInit->value(), m_sidGrid->value(), m_ddpmSteps->value());
    else
        m->setDdpmSteps(m_ddpmSteps->value());
}

// The row tools above the table: insert, remove, duplicate, paste a list.
void ScheduleEditor::buildRowTools(QVBoxLayout* layout) {
    auto* tools = new QHBoxLayout;
    tools->setSpacing(0);
    m_insert = toolButton(QStringLiteral(":/icons/row-insert.svg"), tr("Insert row"),
                          tr("Insert a step above the current row (Ins)"), this);
    m_remove = toolButton(QStringLiteral(":/icons/row-remove.svg"), tr("Remove rows"),
                          tr("Remove the selected steps (Del)"), this);
    m_duplicate = toolButton(QStringLiteral(":/icons/row-duplicate.svg"), tr("Duplicate row"),
                             tr("Duplicate the current step (Ctrl+D)"), this);
    m_paste = toolButton(
        QStringLiteral(":/icons/paste.svg"), tr("Paste list…"),
        tr("Type or paste a list such as 32,48,64 into the current column (Ctrl+V pastes the clipboard)"),
        this);
    m_insert->setObjectName(QStringLiteral("insertRowButton"));
    m_remove->setObjectName(QStringLiteral("removeRowButton"));
    m_duplicate->setObjectName(QStringLiteral("duplicateRowButton"));
    m_paste->setObjectName(QStringLiteral("pasteListButton"));
    tools->addWidget(m_insert);
    tools->addWidget(m_remove);
    tools->addWidget(m_duplicate);
    tools->addWidget(m_paste);
    tools->addStretch(1);
    layout->addLayout(tools);
    connect(m_insert, &QToolButton::clicked, this, &ScheduleEditor::insertRow);
    connect(m_remove, &QToolButton::clicked, this, &ScheduleEditor::removeRows);
    connect(m_duplicate, &QToolButton::clicked, this, &ScheduleEditor::duplicateRow);
    connect(m_paste, &QToolButton::clicked, this, &ScheduleEditor::askPasteList);
}

// The table and the chart of the current slot, one above the other.
void ScheduleEditor::buildTableAndChart(QVBoxLayout* layout) {
    auto* split = new QSplitter(Qt::Vertical, this);
    split->setChildrenCollapsible(false);
    m_table = new QTableView(split);
    m_table->setObjectName(QStringLiteral("scheduleTable"));
    m_table->setToolTip(tr("One row per step. Edit scale and σ; a red cell says what is wrong with it."));
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->horizontalHeader()->setMinimumSectionSize(36);
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->setSelectionBehavior(QAbstractItemView::SelectItems);
    m_table->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                             QAbstractItemView::AnyKeyPressed);
    m_table->setTabKeyNavigation(false);
    m_chart = new ScheduleChart(split);
    m_chart->setObjectName(QStringLiteral("scheduleChart"));
    split->addWidget(m_table);
    split->addWidget(m_chart);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    split->setSizes({200, 260});
    layout->addWidget(split, 1);
    connect(m_chart, &ScheduleChart::pointPressed, this, [this](int row) {
        m_table->setCurrentIndex(m_table->model()->index(row, ScheduleTableModel::ScaleColumn));
    });
}

// The table's keyboard shortcuts (Ins, Del, Ctrl+D, paste), active while it has the focus.
void ScheduleEditor::addTableShortcuts() {
    auto addTableAction = [this](const QKeySequence& key, const QString& name,
                                 void (ScheduleEditor::*slot)()) {
        auto* a = new QAction(name, m_table);
        a->setShortcut(key);
        a->setShortcutContext(Qt::WidgetShortcut);
        connect(a, &QAction::triggered, this, slot);
        m_table->addAction(a);
    };
    addTableAction(QKeySequence(Qt::Key_Insert), tr("Insert row"), &ScheduleEditor::insertRow);
    addTableAction(QKeySequence(Qt::Key_Delete), tr("Remove rows"), &ScheduleEditor::removeRows);
    addTableAction(QKeySequence(Qt::CTRL | Qt::Key_D), tr("Duplicate row"), &ScheduleEditor::duplicateRow);
    addTableAction(QKeySequence::Paste, tr("Paste"), &ScheduleEditor::pasteFromClipboard);
}

ScheduleTableModel* ScheduleEditor::model(Slot slot) const {
    return m_models[static_cast<int>(slot)];
}

Schedule ScheduleEditor::schedule(Slot slot) const {
    return model(slot)->schedule();
}

void ScheduleEditor::setSchedule(Slot slot, const Schedule& schedule) {
    model(slot)->setSchedule(schedule);
    // A schedule that came from a preset (a restored run, a recalled entry) shows that preset.
    if (const int i = m_presetCombo->findData(QString::fromStdString(schedule.id));
        i >= 0 && slot == Slot::Swd) {
        m_presetCombo->setCurrentIndex(i);
        m_presetId = QString::fromStdString(schedule.id);
    }
    if (slot == currentSlot()) syncFieldsFromModel();
    updateStatus();
}

bool ScheduleEditor::valid(Slot slot) const {
    return model(slot)->valid();
}

QString ScheduleEditor::problem(Slot slot) const {
    return model(slot)->firstProblem();
}

ScheduleEditor::Slot ScheduleEditor::currentSlot() const {
    return m_tabs && m_tabs->currentIndex() == 1 ? Slot::Full : Slot::Swd;
}

void ScheduleEditor::setCurrentSlot(Slot slot) {
    m_tabs->setCurrentIndex(static_cast<int>(slot));
}

bool ScheduleEditor::loadPreset(const QString& id) {
    const Schedule* preset = m_presets->find(id);
    if (!preset) return false;
    m_presetId = QString::fromStdString(preset->id);
    if (preset->sampler == SamplerKind::ScaleWise || preset->sampler == SamplerKind::Sid) {
        setSchedule(Slot::Swd, *preset);
        if (!preset->compareWith.empty())
            if (const Schedule* full = m_presets->find(QString::fromStdString(preset->compareWith)))
                setSchedule(Slot::Full, *full);
        setCurrentSlot(Slot::Swd);
    } else {
        setSchedule(Slot::Full, *preset);
        // Comparing across families (an SD3 SwD run against SDXL) means nothing: bring the partner along.
        if (&familyFor(model(Slot::Swd)->family()) != &familyFor(preset->family))
            if (const Schedule* few = fewStepPartner(*preset)) setSchedule(Slot::Swd, *few);
        setCurrentSlot(Slot::Full);
    }
    const int i = m_presetCombo->findData(m_presetId);
    if (i >= 0) m_presetCombo->setCurrentIndex(i);
    return true;
}

// The first few-step preset whose compare_with names `full`.
const Schedule* ScheduleEditor::fewStepPartner(const Schedule& full) const {
    for (const Schedule& s : m_presets->all())
        if (s.compareWith == full.id && !s.id.empty()) return m_presets->find(QString::fromStdString(s.id));
    return nullptr;
}

QString ScheduleEditor::currentPresetId() const {
    return m_presetId;
}

QString ScheduleEditor::saveCurrentAsPreset(const QString& name, bool quiet) {
    try {
        const QString id = m_presets->save(schedule(currentSlot()), name);
        fillPresetCombo();
        m_presetId = id;
        const int i = m_presetCombo->findData(id);
        if (i >= 0) m_presetCombo->setCurrentIndex(i);
        return id;
    } catch (const std::exception& e) {
        if (!quiet) QMessageBox::warning(this, tr("Save preset"), QString::fromUtf8(e.what()));
        return {};
    }
}

void ScheduleEditor::reloadPresets() {
    m_presets->reload();
    fillPresetCombo();
}

void ScheduleEditor::setT5Override(int length) {
    for (ScheduleTableModel* m : m_models) m->setT5Override(length);
    updateStatus();
}

void ScheduleEditor::setLimits(const ScheduleLimits& limits) {
    for (ScheduleTableModel* m : m_models) m->setLimits(limits);
    m_chart->setMaxScale(limits.maxLatentSide);
    updateStatus();
}

void ScheduleEditor::setCostModel(const DenoiserShape& shape, double flopsPerSecond, bool calibrated) {
    for (ScheduleTableModel* m : m_models) m->setCostModel(shape, flopsPerSecond, calibrated);
    updateStatus();
}

void ScheduleEditor::pasteList(const QString& text) {
    ScheduleTableModel* m = model(currentSlot());
    QModelIndex at = m_table->currentIndex();
    const int row = at.isValid() ? at.row() : 0;
    const int column = at.isValid() ? at.column() : ScheduleTableModel::ScaleColumn;
    if (m->pasteText(text, row, column) == 0 && isVisible())
        QMessageBox::information(this, tr("Paste"), m->lastPasteError());
}

void ScheduleEditor::bindCurrentSlot() {
    ScheduleTableModel* m = model(currentSlot());
    if (m_table->model() != m) {
        m_table->setModel(m);
        m_chart->setModel(m);
        // After the view's own reset handler (connected by setModel), which forgets hidden columns.
        disconnect(m_columnsOnReset);
        m_columnsOnReset = connect(m, &QAbstractItemModel::modelReset, this, &ScheduleEditor::applyColumns);
    }
    syncFieldsFromModel();
    updateStatus();
}

// The samplers the schedule's model family offers (family/family.h), in its order.
void ScheduleEditor::fillSamplers(ModelFamily family) {
    std::vector<SamplerKind> offered = familyFor(family).samplers();
    if (m_sampler->count() == static_cast<int>(offered.size())) {
        bool same = true;
        for (int i = 0; i < m_sampler->count(); ++i)
            same = same && m_sampler->itemData(i).toInt() == int(offered[static_cast<std::size_t>(i)]);
        if (same) return;
    }
    m_sampler->clear();
    for (SamplerKind k : offered)
        m_sampler->addItem(QCoreApplication::translate("SamplerKind", kindName(k)), int(k));
}

void ScheduleEditor::syncFieldsFromModel() {
    ScheduleTableModel* m = model(currentSlot());
    m_syncing = true;
    fillSamplers(m->family());
    m_sampler->setCurrentIndex(m_sampler->findData(int(m->sampler())));
    m_guidance->setValue(m->guidance());
    m_t5Length->setValue(m->t5Length());
    const Schedule s = m->schedule();
    if (s.steps)
        m_genSteps->setValue(*s.steps);
    else if (s.stepCount() > 0)
        m_genSteps->setValue(s.stepCount());
    if (s.shift) m_genShift->setValue(*s.shift);
    if (s.finalScale() > 0) m_genScale->setValue(s.finalScale());
    syncDdpmFields();
    m_syncing = false;
    applyColumns();
}

// Which fields the schedule's kind has: SwD / flow Euler (T5, the σ generator) or DDPM (the SiD grid).
void ScheduleEditor::syncDdpmFields() {
    ScheduleTableModel* m = model(currentSlot());
    const bool ddpm = m->isDdpm(), sid = m->sampler() == SamplerKind::Sid;
    m_t5Length->setVisible(!ddpm);
    m_generatorRow->setVisible(currentSlot() == Slot::Full && !ddpm);
    m_ddpmRow->setVisible(ddpm);
    for (QWidget* w : std::initializer_list<QWidget*>{m_sidTInit, m_sidGrid, m_sidNoise}) w->setVisible(sid);
    for (QToolButton* b : {m_insert, m_remove, m_duplicate}) b->setEnabled(!ddpm);
    m_paste->setEnabled(m->sampler() != SamplerKind::EulerDiscrete);
    if (sid) {
        m_sidTInit->setValue(m->sidTInit());
        m_sidGrid->setValue(m->sidGridSteps());
        m_ddpmSteps->setRange(1, std::max(1, m->sidGridSteps()));
        m_sidNoise->setCurrentIndex(m_sidNoise->findData(int(m->sidNoise())));
    } else {
        m_ddpmSteps->setRange(1, kMaxScheduleSteps);
    }
    m_ddpmSteps->setValue(m->rowCount());
    // SiD generators have guidance distilled in: the spin box says so instead of offering CFG.
    m_guidance->setSpecialValueText(sid ? tr("distilled — no CFG") : QString());
    m_guidance->setRange(sid ? 1.0 : 0.0, 30.0);
    m_guidance->setValue(m->guidance());
    m_guidance->setEnabled(!sid);
}

// The table's columns for the schedule's kind: a DDPM schedule's timestep (second), no T5 tokens.
void ScheduleEditor::applyColumns() {
    const bool ddpm = model(currentSlot())->isDdpm();
    m_table->setColumnHidden(ScheduleTableModel::TimestepColumn, !ddpm);
    m_table->setColumnHidden(ScheduleTableModel::TokensColumn, ddpm);
    QHeaderView* header = m_table->horizontalHeader();
    const int at = header->visualIndex(ScheduleTableModel::TimestepColumn);
    if (at != 1) header->moveSection(at, 1);
}

void ScheduleEditor::updateStatus() {
    if (!m_status) return;
    ScheduleTableModel* m = model(currentSlot());
    const bool sidSlot = model(Slot::Swd)->sampler() == SamplerKind::Sid;
    m_tabs->setTabText(0, sidSlot ? tr("SiD schedule") : tr("SwD schedule"));
    m_tabs->setTabToolTip(0, sidSlot ? tr("The few-step SiD schedule that \"Generate SwD\" runs")
                                     : tr("The few-step scale-wise schedule that \"Generate SwD\" runs"));
    m_earlyExit->setVisible(m->sampler() == SamplerKind::Sid && m->rowCount() < m->sidGridSteps());
    m_customTimesteps->setVisible(m->timestepsCustom());
    m_guidance->setToolTip(
        m->fieldIssue(QStringLiteral("guidance")).isEmpty()
            ? tr("Classifier-free guidance scale. Above 1 every step runs the model twice and "
                 "the negative prompt is used; SwD presets use 1.")
            : m->fieldIssue(QStringLiteral("guidance")));
    const QStringList problems = m->problems();
    if (!problems.isEmpty()) {
        m_status->setStyleSheet(QStringLiteral("color: #a00000;"));
        QString text = tr("Cannot run: %1").arg(problems.front());
        if (problems.size() > 1) text += tr(" (and %1 more)").arg(problems.size() - 1);
        m_status->setText(text);
        m_status->setToolTip(problems.join(QLatin1Char('\n')));
        return;
    }
    m_status->setStyleSheet(QString());
    const int side = 8 * m->finalScale();
    m_status->setText(tr("%1 · %2×%2 px · est. %3%4")
                          .arg(m->rowCount() == 1 ? tr("1 step") : tr("%1 steps").arg(m->rowCount()))
                          .arg(side)
                          .arg(formatMs(m->estimatedTotalMs()))
                          .arg(m->costCalibrated() ? QString() : tr(" (uncalibrated)")));
    m_status->setToolTip(
        tr("Total estimated sampling time of this schedule; it is calibrated by the steps of "
           "each finished run."));
}

void ScheduleEditor::regenerateFullGrid() {
    ScheduleTableModel* m = model(currentSlot());
    Schedule s = m->schedule();
    const Schedule grid = makeFullResolutionSchedule(
        m_genSteps->value(), m_genShift->value(), m_genScale->value() / 2 * 2, m->guidance(), m->t5Length());
    s.scales = grid.scales;
    s.sigmas = grid.sigmas;
    s.steps = grid.steps;
    s.shift = grid.shift;
    s.sampler = SamplerKind::FlowEuler;
    setSchedule(currentSlot(), s);
    Q_EMIT schedulesChanged();
}

void ScheduleEditor::fillPresetCombo() {
    const QString keep = m_presetId;
    m_presetCombo->clear();
    for (const Schedule& s : m_presets->all()) {
        const QString id = QString::fromStdString(s.id);
        QString label = QString::fromStdString(s.name.empty() ? s.id : s.name);
        if (m_presets->isUserPreset(id)) label += tr(" (yours)");
        m_presetCombo->addItem(label, id);
        m_presetCombo->setItemData(m_presetCombo->count() - 1,
                                   QString::fromStdString(s.description.empty() ? s.id : s.description),
                                   Qt::ToolTipRole);
    }
    const int i = m_presetCombo->findData(keep);
    if (i >= 0) m_presetCombo->setCurrentIndex(i);
}

void ScheduleEditor::insertRow() {
    ScheduleTableModel* m = model(currentSlot());
    const QModelIndex at = m_table->currentIndex();
    const int row = at.isValid() ? at.row() : m->rowCount();
    m->insertRows(row, 1);
    m_table->setCurrentIndex(m->index(row, at.isValid() ? at.column() : ScheduleTableModel::ScaleColumn));
}

void ScheduleEditor::removeRows() {
    ScheduleTableModel* m = model(currentSlot());
    QList<int> rows;
    for (const QModelIndex& i : m_table->selectionModel()->selectedIndexes())
        if (!rows.contains(i.row())) rows << i.row();
    if (rows.isEmpty() && m_table->currentIndex().isValid()) rows << m_table->currentIndex().row();
    std::sort(rows.begin(), rows.end(), std::greater<int>());
    for (int r : rows) m->removeRows(r, 1);
}

void ScheduleEditor::duplicateRow() {
    ScheduleTableModel* m = model(currentSlot());
    const QModelIndex at = m_table->currentIndex();
    if (!at.isValid()) return;
    m->duplicateRow(at.row());
    m_table->setCurrentIndex(m->index(at.row() + 1, at.column()));
}

void ScheduleEditor::pasteFromClipboard() {
    pasteList(QApplication::clipboard()->text());
}

void ScheduleEditor::askPasteList() {
    const QModelIndex at = m_table->currentIndex();
    const bool sigma = at.isValid() && at.column() == ScheduleTableModel::SigmaColumn;
    const bool ddpm = model(currentSlot())->isDdpm();
    bool ok = false;
    const QString text = QInputDialog::getMultiLineText(
        this, tr("Paste a list"),
        ddpm    ? tr("Timesteps from the current row down (e.g. 625, 468, 312, 156):")
        : sigma ? tr("σ values from the current row down (e.g. 1.0, 0.9454, 0.7904, 0.6022, 0):")
                : tr("Scales from the current row down (e.g. 32, 48, 64, 80, 96, 128):"),
        QString(), &ok);
    if (ok && !text.trimmed().isEmpty()) pasteList(text);
}

void ScheduleEditor::askSavePreset() {
    const Schedule s = schedule(currentSlot());
    bool ok = false;
    const QString name =
        QInputDialog::getText(this, tr("Save preset"), tr("Name of the preset:"), QLineEdit::Normal,
                              QString::fromStdString(s.name) + tr(" (mine)"), &ok);
    if (ok && !name.trimmed().isEmpty()) saveCurrentAsPreset(name);
}

void ScheduleEditor::deletePreset() {
    const QString id = m_presetCombo->currentData().toString();
    if (!m_presets->isUserPreset(id)) {
        QMessageBox::information(this, tr("Delete preset"), tr("Built-in presets cannot be deleted."));
        return;
    }
    if (QMessageBox::question(this, tr("Delete preset"),
                              tr("Delete the preset \"%1\"?").arg(m_presetCombo->currentText())) !=
        QMessageBox::Yes)
        return;
    m_presets->remove(id);
    fillPresetCombo();
}

}  // namespace swd::ui
