#include "main_window.h"

#include "compare_view.h"
#include "generation_controller.h"
#include "history_panel.h"
#include "history_store.h"
#include "image/image_io.h"
#include "image_conversion.h"
#include "prompt_panel.h"
#include "run_record.h"
#include "schedule_editor.h"
#include "schedule_table_model.h"
#include "session/run_output.h"
#include "settings_dialog.h"
#include "step_strip.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabBar>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

// The icons compiled into swd_ui (a static library: the resource must be referenced to be linked in).
static void initSwdResources() {
    Q_INIT_RESOURCE(swd_studio);
}

namespace swd::ui {

namespace {

// Bumped when the docks change, so that an old saved layout is not applied to a new window.
constexpr int kWindowStateVersion = 1;

// "1 step", "6 steps" (English plurals without a translation loaded).
QString stepsText(int n) {
    return n == 1 ? QObject::tr("1 step") : QObject::tr("%1 steps").arg(n);
}

QString formatSeconds(double ms) {
    return QObject::tr("%1 s").arg(ms / 1000.0, 0, 'f', ms < 10000.0 ? 2 : 1);
}

bool isImageFile(const QString& path) {
    static const QStringList ext = {QStringLiteral("png"), QStringLiteral("jpg"),  QStringLiteral("jpeg"),
                                    QStringLiteral("tif"), QStringLiteral("tiff"), QStringLiteral("exr"),
                                    QStringLiteral("webp")};
    return ext.contains(QFileInfo(path).suffix().toLower());
}

QPushButton* actionButton(QAction* action, QWidget* parent) {
    auto* b = new QPushButton(action->icon(), action->iconText(), parent);
    b->setToolTip(action->toolTip());
    QObject::connect(b, &QPushButton::clicked, action, &QAction::trigger);
    QObject::connect(action, &QAction::changed, b, [b, action] {
        b->setEnabled(action->isEnabled());
        b->setText(action->iconText());
        b->setToolTip(action->toolTip());
    });
    b->setEnabled(action->isEnabled());
    return b;
}

}  // namespace

MainWindow::MainWindow() : MainWindow(Options{}) {}

MainWindow::MainWindow(const Options& options, QWidget* parent) : QMainWindow(parent) {
    initSwdResources();
    registerRunTypes();
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(QStringLiteral("SwD Studio"));
    setWindowIcon(QIcon(QStringLiteral(":/icons/org.swdstudio.SwDStudio.svg")));
    setAcceptDrops(true);
    m_settings = AppSettings::load();

    m_controller = new GenerationController(options.backend, this);
    m_history = new HistoryStore(options.historyDir, this);
    m_prompt = new PromptPanel;
    m_schedule = new ScheduleEditor(options.presetDir);
    m_compare = new CompareView;
    m_compare->setObjectName(QStringLiteral("compareView"));
    m_strip = new StepStrip;
    m_strip->setObjectName(QStringLiteral("stepStrip"));
    m_historyPanel = new HistoryPanel(m_history);

    buildActions();
    buildUi();
    buildMenus();
    {
        // The window's size and where the user put the docks, as they left them.
        QSettings settings;
        restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
        restoreState(settings.value(QStringLiteral("window/state")).toByteArray(), kWindowStateVersion);
    }

    connect(m_schedule, &ScheduleEditor::schedulesChanged, this, [this] {
        updateActions();
        updateNegativePrompt();
    });
    connect(m_schedule, &ScheduleEditor::presetChosen, this,
            [this](const QString& id) { m_settings.presetId = id; });
    connect(m_controller, &GenerationController::busyChanged, this, &MainWindow::updateActions);
    connect(m_controller, &GenerationController::discovered, this, &MainWindow::onDiscovered);
    connect(m_controller, &GenerationController::stepFinished, m_strip, &StepStrip::addStep);
    connect(m_controller, &GenerationController::previewChanged, this, [this](const StepImage& step) {
        // The live preview goes where the run's final image will go: SwD on A, full resolution on B.
        const int side = step.runLabel == kFullLabel ? 1 : 0;
        const QString label =
            tr("%1 · step %2/%3").arg(step.runLabel).arg(step.index + 1).arg(step.stepCount);
        if (side == 0)
            m_compare->setImageA(step.image.isNull() ? m_compare->imageA() : step.image, label);
        else
            m_compare->setImageB(step.image.isNull() ? m_compare->imageB() : step.image, label);
    });
    connect(m_controller, &GenerationController::progressChanged, this,
            [this](double fraction, double, const QString& text) {
                m_progress->setValue(int(fraction * 1000));
                m_progressText->setText(text);
            });
    connect(m_controller, &GenerationController::runFinished, this, &MainWindow::onRunFinished);
    connect(m_controller, &GenerationController::failed, this, [this](const QString& message) {
        m_jobHadError = true;
        showMessage(message, true);
    });
    connect(m_controller, &GenerationController::jobFinished, this, &MainWindow::onJobFinished);
    connect(m_controller, &GenerationController::costInfoChanged, this, [this](const CostInfo& info) {
        // Kept per model so the estimates are calibrated from the start next time.
        QSettings settings;
        settings.beginGroup(
            QStringLiteral("calibration/") +
            QString::fromLatin1(m_jobModelKey.toUtf8().toBase64(QByteArray::Base64UrlEncoding)));
        if (const TransformerShape* t = info.shape.transformer()) {
            settings.remove(QStringLiteral("unet"));
            settings.setValue(QStringLiteral("hidden"), t->hidden);
            settings.setValue(QStringLiteral("depth"), t->depth);
            settings.setValue(QStringLiteral("dualLayers"), t->dualLayers);
            settings.setValue(QStringLiteral("patch"), t->patch);
            settings.setValue(QStringLiteral("jointDim"), t->jointDim);
        } else if (const UnetShape* u = info.shape.unet()) {  // the real UNet of its kind
            settings.setValue(QStringLiteral("unet"),
                              u->config.textTimeEmbedding ? QStringLiteral("sdxl") : QStringLiteral("sd15"));
        }
        settings.setValue(QStringLiteral("flopsPerSecond"), info.flopsPerSecond);
        settings.setValue(QStringLiteral("calibrated"), info.calibrated);
        settings.setValue(QStringLiteral("maxLatentSide"), info.maxLatentSide);
        settings.endGroup();
        applyCalibration(m_jobModelKey);
    });
    connect(m_prompt->modelCombo(), qOverload<int>(&QComboBox::currentIndexChanged), this,
            [this] { applyCalibration(m_prompt->modelChoice().modelKey()); });
    connect(m_strip, &StepStrip::stepActivated, this, &MainWindow::showStep);
    connect(m_historyPanel, &HistoryPanel::recallRequested, this, &MainWindow::recall);

    applySettings(m_settings);
    if (!m_settings.presetId.isEmpty()) m_schedule->loadPreset(m_settings.presetId);
    applyCalibration(m_prompt->modelChoice().modelKey());
    updateActions();
    updateNegativePrompt();
    resize(1280, 800);
    if (options.discoverModels) m_controller->discover();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildActions() {
    auto make = [this](const QString& name, const QString& text, const QString& icon,
                       const QList<QKeySequence>& keys, const QString& tip) {
        auto* a = new QAction(QIcon(icon), text, this);
        a->setObjectName(name);
        a->setShortcuts(keys);
        a->setShortcutContext(Qt::WindowShortcut);
        QString shortcut;
        if (!keys.isEmpty())
            shortcut =
                QStringLiteral(" (") + keys.front().toString(QKeySequence::NativeText) + QLatin1Char(')');
        a->setToolTip(tip + shortcut);
        a->setStatusTip(tip);
        addAction(a);
        return a;
    };
    m_actSwd =
        make(QStringLiteral("actionGenerateSwd"), tr("Generate &SwD"), QStringLiteral(":/icons/generate.svg"),
             {QKeySequence(Qt::CTRL | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::Key_Enter)},
             tr("Run the SwD schedule: few steps, growing resolution"));
    m_actFull = make(QStringLiteral("actionGenerateFull"), tr("Generate &full resolution"),
                     QStringLiteral(":/icons/generate-full.svg"),
                     {QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Return),
                      QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Enter)},
                     tr("Run the full-resolution schedule (classic sampling, no adapter)"));
    m_actCompare = make(
        QStringLiteral("actionCompare"), tr("&Compare both"), QStringLiteral(":/icons/compare.svg"),
        {QKeySequence(Qt::CTRL | Qt::ALT | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::ALT | Qt::Key_Enter)},
        tr("Run SwD, then full resolution, with the same seed, and compare them side by side"));
    m_actCancel = make(QStringLiteral("actionCancel"), tr("C&ancel"), QStringLiteral(":/icons/cancel.svg"),
                       {QKeySequence(Qt::Key_Escape)}, tr("Stop after the current step"));
    m_actSave = make(QStringLiteral("actionSave"), tr("&Save image as…"), QStringLiteral(":/icons/save.svg"),
                     {QKeySequence(QKeySequence::Save)},
                     tr("Save the image shown (A) with the settings that restore it"));
    m_actOpen = make(QStringLiteral("actionOpen"), tr("&Open image…"), QStringLiteral(":/icons/open.svg"),
                     {QKeySequence(QKeySequence::Open)},
                     tr("Open an image and restore every setting stored in it (or drop it on the window)"));
    m_actSettings = make(QStringLiteral("actionSettings"), tr("Se&ttings…"),
                         QStringLiteral(":/icons/settings.svg"), {QKeySequence(Qt::CTRL | Qt::Key_Comma)},
                         tr("Model folders, output folder, previews, T5 length, threads"));
    m_actQuit = make(QStringLiteral("actionQuit"), tr("&Quit"), QString(),
                     {QKeySequence(Qt::CTRL | Qt::Key_Q)}, tr("Quit SwD Studio (results are already saved)"));
    m_actFit = make(QStringLiteral("actionFit"), tr("&Fit"), QStringLiteral(":/icons/fit.svg"),
                    {QKeySequence(Qt::CTRL | Qt::Key_0)}, tr("Fit the images to the view"));
    m_actActual =
        make(QStringLiteral("actionActualSize"), tr("&Actual size"), QStringLiteral(":/icons/one-to-one.svg"),
             {QKeySequence(Qt::CTRL | Qt::Key_1)}, tr("One image pixel per screen pixel (1:1)"));
    m_actSwap = make(QStringLiteral("actionSwap"), tr("S&wap A and B"), QStringLiteral(":/icons/swap.svg"),
                     {QKeySequence(Qt::CTRL | Qt::Key_W)}, tr("Swap the two compared images"));
    m_actShortcuts = make(QStringLiteral("actionShortcuts"), tr("&Keyboard shortcuts"), QString(),
                          {QKeySequence(QKeySequence::HelpContents)}, tr("List the keyboard shortcuts"));
    const QStringList modeKeys = {QStringLiteral("Ctrl+2"), QStringLiteral("Ctrl+3"),
                                  QStringLiteral("Ctrl+4"), QStringLiteral("Ctrl+5")};
    for (int m = 0; m < 4; ++m) {
        auto* a = make(QStringLiteral("actionMode%1").arg(m), CompareView::modeName(CompareView::Mode(m)),
                       QString(), {QKeySequence(modeKeys[m])},
                       tr("Compare: %1").arg(CompareView::modeName(CompareView::Mode(m))));
        a->setCheckable(true);
        connect(a, &QAction::triggered, this, [this, m] { setCompareMode(m); });
        m_modeActions << a;
    }
    m_modeActions[0]->setChecked(true);

    connect(m_actSwd, &QAction::triggered, this, [this] { generate(RunKind::Swd); });
    connect(m_actFull, &QAction::triggered, this, [this] { generate(RunKind::Full); });
    connect(m_actCompare, &QAction::triggered, this, [this] { generate(RunKind::Compare); });
    connect(m_actCancel, &QAction::triggered, this, &MainWindow::cancel);
    connect(m_actSave, &QAction::triggered, this, &MainWindow::saveImageDialog);
    connect(m_actOpen, &QAction::triggered, this, &MainWindow::openImageDialog);
    connect(m_actSettings, &QAction::triggered, this, &MainWindow::openSettings);
    connect(m_actQuit, &QAction::triggered, this, &QWidget::close);
    connect(m_actFit, &QAction::triggered, this, [this] { m_compare->fitToWindow(); });
    connect(m_actActual, &QAction::triggered, this, [this] { m_compare->actualSize(); });
    connect(m_actSwap, &QAction::triggered, this, [this] {
        std::swap(m_shown[0], m_shown[1]);
        m_compare->swap();
    });
    connect(m_actShortcuts, &QAction::triggered, this, &MainWindow::showShortcuts);
}

void MainWindow::buildUi() {
    buildToolBar();
    QDockWidget* leftDock = buildPromptDock();
    QDockWidget* scheduleDock = buildRightDocks();
    setCentralWidget(buildCentre());
    statusBar()->showMessage(tr("Ready"));
    resizeDocks({leftDock, scheduleDock}, {320, 410}, Qt::Horizontal);

    // Keyboard order: prompt → negative → seed → pickers → run buttons → view → schedule.
    setTabOrder(m_prompt->promptEdit(), m_prompt->negativeEdit());
}

// The main tool bar: the run actions, then open and save.
void MainWindow::buildToolBar() {
    auto* tools = addToolBar(tr("Main"));
    tools->setObjectName(QStringLiteral("mainToolBar"));
    tools->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    tools->setIconSize(QSize(18, 18));
    tools->addAction(m_actSwd);
    tools->addAction(m_actFull);
    tools->addAction(m_actCompare);
    tools->addAction(m_actCancel);
    tools->addSeparator();
    tools->addAction(m_actOpen);
    tools->addAction(m_actSave);
    for (QToolButton* b : tools->findChildren<QToolButton*>())
        if (b->defaultAction()) b->setToolTip(b->defaultAction()->toolTip());
}

QDockWidget* MainWindow::buildPromptDock() {
    // Left: prompt, pickers, the run buttons and the progress.
    auto* left = new QWidget;
    auto* lv = new QVBoxLayout(left);
    lv->setContentsMargins(0, 0, 0, 0);
    lv->addWidget(m_prompt, 1);
    lv->addWidget(buildRunButtons(left));
    auto* leftDock = new QDockWidget(tr("Prompt"), this);
    leftDock->setObjectName(QStringLiteral("promptDock"));
    leftDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    leftDock->setWidget(left);
    leftDock->setMinimumWidth(300);
    addDockWidget(Qt::LeftDockWidgetArea, leftDock);
    return leftDock;
}

// Under the prompt: the run buttons, the progress bar and the progress text.
QWidget* MainWindow::buildRunButtons(QWidget* left) {
    auto* buttons = new QWidget(left);
    auto* bl = new QVBoxLayout(buttons);
    bl->setContentsMargins(4, 0, 4, 4);
    bl->setSpacing(4);
    m_swdButton = actionButton(m_actSwd, buttons);
    m_swdButton->setObjectName(QStringLiteral("generateSwdButton"));
    m_swdButton->setDefault(true);
    m_fullButton = actionButton(m_actFull, buttons);
    m_fullButton->setObjectName(QStringLiteral("generateFullButton"));
    m_compareButton = actionButton(m_actCompare, buttons);
    m_compareButton->setObjectName(QStringLiteral("compareButton"));
    m_cancelButton = actionButton(m_actCancel, buttons);
    m_cancelButton->setObjectName(QStringLiteral("cancelButton"));
    auto* row = new QHBoxLayout;
    row->addWidget(m_fullButton);
    row->addWidget(m_cancelButton);
    bl->addWidget(m_swdButton);
    bl->addWidget(m_compareButton);
    bl->addLayout(row);
    m_progress = new QProgressBar(buttons);
    m_progress->setObjectName(QStringLiteral("progressBar"));
    m_progress->setRange(0, 1000);
    m_progress->setTextVisible(false);
    m_progress->setMaximumHeight(10);
    m_progress->setToolTip(
        tr("Progress of the job, weighted by each step's cost (a 1024 px step costs far more than a "
           "256 px one)"));
    m_progressText = new QLabel(tr("Ready"), buttons);
    m_progressText->setObjectName(QStringLiteral("progressText"));
    m_progressText->setWordWrap(true);
    m_progressText->setToolTip(tr("The current step, its scale, σ and time, and the estimated time left"));
    bl->addWidget(m_progress);
    bl->addWidget(m_progressText);
    return buttons;
}

QDockWidget* MainWindow::buildRightDocks() {
    // Right: schedule editor and history, tabbed.
    auto* scheduleDock = new QDockWidget(tr("Schedule"), this);
    scheduleDock->setObjectName(QStringLiteral("scheduleDock"));
    scheduleDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    scheduleDock->setWidget(m_schedule);
    scheduleDock->setMinimumWidth(380);
    addDockWidget(Qt::RightDockWidgetArea, scheduleDock);
    auto* historyDock = new QDockWidget(tr("History"), this);
    historyDock->setObjectName(QStringLiteral("historyDock"));
    historyDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    historyDock->setWidget(m_historyPanel);
    addDockWidget(Qt::RightDockWidgetArea, historyDock);
    tabifyDockWidget(scheduleDock, historyDock);
    scheduleDock->raise();
    connect(this, &QMainWindow::tabifiedDockWidgetActivated, this, &MainWindow::describeDockTabs);
    return scheduleDock;
}

QWidget* MainWindow::buildCentre() {
    // Centre: message bar, compare view with its controls and summary, the step strips.
    auto* centre = new QWidget;
    auto* cv = new QVBoxLayout(centre);
    cv->setContentsMargins(2, 2, 2, 2);
    cv->setSpacing(2);
    buildMessageBar(centre);
    cv->addWidget(m_messageBar);

    QHBoxLayout* viewBar = buildViewBar(centre);
    cv->addLayout(viewBar);
    cv->addWidget(m_summary);

    auto* split = new QSplitter(Qt::Vertical, centre);
    split->setChildrenCollapsible(false);
    split->addWidget(m_compare);
    auto* stripScroll = new QScrollArea(split);
    stripScroll->setObjectName(QStringLiteral("stripScroll"));
    stripScroll->setWidget(m_strip);
    stripScroll->setWidgetResizable(true);
    stripScroll->setFrameShape(QFrame::NoFrame);
    stripScroll->setToolTip(tr("Every step of the last runs; click a step to show it large"));
    split->addWidget(stripScroll);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    // Room for both lanes (SwD above full resolution) under the compare view.
    split->setSizes({400, 2 * (StepStrip::kThumbSize + 3 * fontMetrics().height() + 40)});
    cv->addWidget(split, 1);
    return centre;
}

// The bar that shows an error or a notice above the compare view, hidden until there is one.
void MainWindow::buildMessageBar(QWidget* centre) {
    m_messageBar = new QWidget(centre);
    auto* ml = new QHBoxLayout(m_messageBar);
    ml->setContentsMargins(6, 2, 2, 2);
    m_message = new QLabel(m_messageBar);
    m_message->setObjectName(QStringLiteral("messageLabel"));
    m_message->setWordWrap(true);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* close = new QToolButton(m_messageBar);
    close->setText(QStringLiteral("×"));
    close->setAutoRaise(true);
    close->setToolTip(tr("Dismiss this message"));
    ml->addWidget(m_message, 1);
    ml->addWidget(close, 0, Qt::AlignTop);
    connect(close, &QToolButton::clicked, this, &MainWindow::clearMessage);
    m_messageBar->hide();
}

// The compare view's controls: mode, fit, actual size, swap, A/B toggle; and the runs' summary label
// (created here, placed under the bar by buildCentre).
QHBoxLayout* MainWindow::buildViewBar(QWidget* centre) {
    auto* viewBar = new QHBoxLayout;
    viewBar->setSpacing(2);
    m_modeCombo = new QComboBox(centre);
    m_modeCombo->setObjectName(QStringLiteral("compareModeCombo"));
    for (int m = 0; m < 4; ++m) m_modeCombo->addItem(CompareView::modeName(CompareView::Mode(m)), m);
    m_modeCombo->setToolTip(
        tr("How A and B are compared: side by side, a slider wipe, the difference map, or an A/B "
           "toggle (Ctrl+2 … Ctrl+5)"));
    connect(m_modeCombo, qOverload<int>(&QComboBox::activated), this, [this](int i) { setCompareMode(i); });
    viewBar->addWidget(m_modeCombo);
    for (QAction* a : {m_actFit, m_actActual, m_actSwap}) {
        auto* b = new QToolButton(centre);
        b->setDefaultAction(a);
        b->setToolTip(a->toolTip());
        b->setAutoRaise(true);
        viewBar->addWidget(b);
    }
    auto* toggle = new QToolButton(centre);
    toggle->setObjectName(QStringLiteral("toggleAbButton"));
    toggle->setText(tr("A/B"));
    toggle->setToolTip(tr("Show the other image (A/B toggle mode; Space in the view)"));
    toggle->setAutoRaise(true);
    connect(toggle, &QToolButton::clicked, this, [this] {
        if (m_compare->mode() != CompareView::Mode::Toggle) setCompareMode(int(CompareView::Mode::Toggle));
        m_compare->toggleAB();
    });
    viewBar->addWidget(toggle);
    m_summary = new QLabel(centre);
    m_summary->setObjectName(QStringLiteral("summaryLabel"));
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_summary->setToolTip(tr("Total time of each run and the speedup of SwD over full resolution"));
    m_summary->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // never widens the window
    viewBar->addStretch(1);
    return viewBar;
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(m_actOpen);
    file->addAction(m_actSave);
    file->addSeparator();
    file->addAction(m_actSettings);
    file->addSeparator();
    file->addAction(m_actQuit);
    QMenu* gen = menuBar()->addMenu(tr("&Generate"));
    gen->addAction(m_actSwd);
    gen->addAction(m_actFull);
    gen->addAction(m_actCompare);
    gen->addSeparator();
    gen->addAction(m_actCancel);
    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (QAction* a : m_modeActions) view->addAction(a);
    view->addSeparator();
    view->addAction(m_actFit);
    view->addAction(m_actActual);
    view->addAction(m_actSwap);
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(m_actShortcuts);
    help->addAction(tr("&About SwD Studio"), this, [this] {
        QMessageBox::about(
            this, tr("About SwD Studio"),
            tr("<b>SwD Studio %1</b><p>Few-step text-to-image generation with Scale-wise Distillation "
               "(SwD) for Stable Diffusion 3.5, side by side with full-resolution sampling.</p>")
                .arg(QApplication::applicationVersion()));
    });
}

QAction* MainWindow::action(const QString& objectName) const {
    return findChild<QAction*>(objectName);
}

QString MainWindow::messageText() const {
    return m_messageBar->isHidden() ? QString() : m_message->text();
}

QString MainWindow::summaryText() const {
    return m_summary->text();
}

void MainWindow::applySettings(const AppSettings& settings) {
    m_settings = settings;
    m_prompt->setDevice(settings.device);
    m_prompt->setPrecision(settings.precision);
    m_prompt->setModelChoice(ModelChoice::fromKeys(settings.modelKey, settings.adapterKey));
    m_schedule->setT5Override(settings.t5Length);
    BackendOptions o;
    o.modelFolders = settings.modelFolders;
    o.useHfCache = settings.useHfCache;
    o.demoDir = demoModelDir();
    o.hashCache = appDataDir() + QStringLiteral("/file-hashes.json");
    o.threads = settings.threads;
    o.taesdPath = settings.taesdPath;
    m_controller->configure(o);
}

RunRequest MainWindow::requestFor(RunKind kind, quint64 seed) const {
    RunRequest r;
    r.prompt = m_prompt->prompt();
    r.negativePrompt = m_prompt->negativePrompt();
    r.seed = seed;
    const bool full = kind == RunKind::Full;
    r.schedule = m_schedule->schedule(full ? ScheduleEditor::Slot::Full : ScheduleEditor::Slot::Swd);
    if (m_settings.t5Length > 0) r.schedule.t5Length = m_settings.t5Length;
    r.device = m_prompt->device();
    // The settings and the combo keep the ids users see in files; the request carries the values.
    r.precision = precisionFromName(m_prompt->precision().toStdString()).value_or(Precision::Auto);
    r.preview =
        kindFromId<PreviewMode>(m_settings.previewMode.toStdString()).value_or(PreviewMode::Projection);
    r.model = m_prompt->modelChoice();
    r.useAdapter = !full && r.model.adapterKind != ModelChoice::AdapterKind::None;
    r.label = full ? kFullLabel : kSwdLabel;
    r.outputFolder = m_settings.outputFolder;
    r.outputFormat = imageFormatFromId(m_settings.outputFormat.toStdString()).value_or(ImageFormat::Png8);
    return r;
}

bool MainWindow::generate(RunKind kind) {
    if (m_controller->busy()) return false;
    const bool needSwd = kind != RunKind::Full, needFull = kind != RunKind::Swd;
    if (needSwd && !m_schedule->valid(ScheduleEditor::Slot::Swd)) {
        showMessage(tr("The SwD schedule cannot run: %1").arg(m_schedule->problem(ScheduleEditor::Slot::Swd)),
                    true);
        return false;
    }
    if (needFull && !m_schedule->valid(ScheduleEditor::Slot::Full)) {
        showMessage(tr("The full-resolution schedule cannot run: %1")
                        .arg(m_schedule->problem(ScheduleEditor::Slot::Full)),
                    true);
        return false;
    }
    clearMessage();
    const quint64 seed = m_prompt->seedForNextRun();
    QList<RunRequest> runs;
    if (needSwd) runs << requestFor(RunKind::Swd, seed);
    if (needFull) runs << requestFor(RunKind::Full, seed);
    m_jobKind = kind;
    m_jobHadError = false;
    // Remember the choices for the next start.
    m_settings.device = m_prompt->device();
    m_settings.precision = m_prompt->precision();
    m_settings.modelKey = m_prompt->modelChoice().modelKey();
    m_settings.adapterKey = m_prompt->modelChoice().adapterKey();
    m_settings.save();
    m_jobId = m_controller->start(runs);
    if (m_jobId == 0) return false;
    m_jobKey =
        QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss-zzz")) + QStringLiteral("-job");
    m_jobModelKey = m_settings.modelKey;
    for (const RunRequest& r : runs) {
        QList<int> scales(r.schedule.scales.begin(), r.schedule.scales.end());
        m_strip->beginRun(r.label, r.schedule.stepCount(), scales);
    }
    statusBar()->showMessage(tr("Running with seed %1").arg(seed));
    updateActions();
    return true;
}

void MainWindow::cancel() {
    m_controller->cancel();
}

void MainWindow::setShown(int side, const Shown& shown) {
    m_shown[side] = shown;
    if (side == 0)
        m_compare->setImageA(shown.image, shown.label);
    else
        m_compare->setImageB(shown.image, shown.label);
    updateSummary();
}

QString MainWindow::sideLabel(const QString& runLabel, quint64 seed) {
    return tr("%1 · seed %2").arg(runLabel).arg(seed);
}

void MainWindow::onRunFinished(const RunResult& result) {
    const int side = result.request.label == kFullLabel ? 1 : 0;
    const double ms = result.timings.totalMs;
    QString laneSummary = tr("%1, %2 (sampling %3)")
                              .arg(stepsText(result.completedSteps), formatSeconds(ms),
                                   formatSeconds(result.timings.samplingMs));
    if (result.cancelled) laneSummary += tr(", cancelled");
    m_strip->setLaneSummary(result.request.label, laneSummary);
    if (!result.image().isNull()) {
        Shown s;
        s.image = result.image();
        s.label = sideLabel(result.request.label, result.request.seed);
        s.recordJson = result.recordJson;
        s.parametersText = result.parametersText;
        s.samplingMs = result.timings.samplingMs;
        s.totalMs = result.timings.totalMs - result.timings.loadMs;
        s.stepCount = result.completedSteps;
        s.seed = result.request.seed;
        s.jobId = result.jobId;
        setShown(side, s);
        if (auto entry = m_history->add(result, m_jobKey); !entry && !m_history->lastError().isEmpty())
            showMessage(
                tr("The run finished but could not be added to the history: %1").arg(m_history->lastError()),
                true);
    } else if (!m_shown[side].valid()) {
        // A cancelled run without a decoded image: keep its last step on screen.
        if (!result.steps.isEmpty() && !result.steps.back().image.isNull()) {
            const QString label =
                tr("%1 (cancelled at step %2)").arg(result.request.label).arg(result.completedSteps);
            if (side == 0)
                m_compare->setImageA(result.steps.back().image, label);
            else
                m_compare->setImageB(result.steps.back().image, label);
        }
    }
    if (!result.saveError.isEmpty())
        showMessage(tr("Could not save the result: %1").arg(result.saveError), true);
    else if (!result.savedPaths.isEmpty())
        statusBar()->showMessage(tr("Saved %1").arg(result.savedPaths.join(QStringLiteral(", "))));
}

void MainWindow::onJobFinished(int, bool cancelled, bool failed) {
    // Live previews of a run that did not finish give way to the last finished image of that side, so what
    // is shown is what Save writes.
    if (cancelled || failed)
        for (int side = 0; side < 2; ++side)
            if (m_shown[side].valid()) setShown(side, m_shown[side]);
    if (cancelled && !failed)
        statusBar()->showMessage(tr("Cancelled: the steps that finished are kept in the strip"));
    else if (!failed && statusBar()->currentMessage().startsWith(tr("Running")))
        statusBar()->showMessage(tr("Done"));
    m_progressText->setText(failed      ? tr("Failed: see the message above the image")
                            : cancelled ? tr("Cancelled")
                                        : tr("Done"));
    updateActions();
    updateSummary();
    Q_EMIT jobSettled();
}

void MainWindow::updateSummary() {
    QStringList parts;
    for (int side = 0; side < 2; ++side) {
        const Shown& s = m_shown[side];
        if (!s.valid() || s.totalMs <= 0) continue;
        parts << tr("%1: %2 (%3)")
                     .arg(side == 0 ? kSwdLabel : kFullLabel, formatSeconds(s.totalMs),
                          stepsText(s.stepCount));
    }
    const Shown& a = m_shown[0];
    const Shown& b = m_shown[1];
    if (a.valid() && b.valid() && a.totalMs > 0 && b.totalMs > 0 && a.seed == b.seed)
        parts << tr("SwD is %1× faster").arg(b.totalMs / a.totalMs, 0, 'f', 1);
    m_summary->setText(parts.join(QStringLiteral(" · ")));
    m_summary->setToolTip(parts.isEmpty()
                              ? tr("Total time of each run and the speedup of SwD over full resolution")
                              : parts.join(QLatin1Char('\n')));
}

void MainWindow::showStep(const StepImage& step) {
    if (step.image.isNull()) return;
    const QString where = step.timestep >= 0
                              ? tr("t %1").arg(step.timestep)
                              : tr("scale %1 · σ %2").arg(step.scale).arg(step.sigma, 0, 'f', 3);
    const QString label =
        tr("%1 step %2/%3 · %4").arg(step.runLabel).arg(step.index + 1).arg(step.stepCount).arg(where);
    if (step.runLabel == kFullLabel)
        m_compare->setImageB(step.image, label);
    else
        m_compare->setImageA(step.image, label);
}

void MainWindow::updateActions() {
    const bool busy = m_controller->busy();
    const QString swdProblem = m_schedule->problem(ScheduleEditor::Slot::Swd);
    const QString fullProblem = m_schedule->problem(ScheduleEditor::Slot::Full);
    auto set = [](QAction* a, bool enabled, const QString& tip) {
        a->setEnabled(enabled);
        a->setToolTip(tip);
    };
    const QString busyTip = tr(" — a job is running (Esc cancels it)");
    // The few-step slot holds SwD (SD3) or SiD (SD1.5 / SDXL): the button names the one it runs.
    const bool sid = m_schedule->model(ScheduleEditor::Slot::Swd)->sampler() == SamplerKind::Sid;
    m_actSwd->setText(sid ? tr("Generate &SiD") : tr("Generate &SwD"));
    set(m_actSwd, !busy && swdProblem.isEmpty(),
        (sid ? tr("Run the SiD schedule: few steps at one size, no CFG (Ctrl+Enter)")
             : tr("Run the SwD schedule: few steps, growing resolution (Ctrl+Enter)")) +
            (busy                   ? busyTip
             : swdProblem.isEmpty() ? QString()
                                    : tr("\nCannot run: %1").arg(swdProblem)));
    set(m_actFull, !busy && fullProblem.isEmpty(),
        tr("Run the full-resolution schedule (Ctrl+Shift+Enter)") +
            (busy                    ? busyTip
             : fullProblem.isEmpty() ? QString()
                                     : tr("\nCannot run: %1").arg(fullProblem)));
    QString compareProblem = swdProblem.isEmpty() ? fullProblem : swdProblem;
    set(m_actCompare, !busy && compareProblem.isEmpty(),
        tr("Run SwD, then full resolution, with the same seed (Ctrl+Alt+Enter)") +
            (busy                       ? busyTip
             : compareProblem.isEmpty() ? QString()
                                        : tr("\nCannot run: %1").arg(compareProblem)));
    m_actCancel->setEnabled(busy);
    m_actSave->setEnabled(m_shown[0].valid() || m_shown[1].valid());
}

void MainWindow::updateNegativePrompt() {
    const double gSwd = m_schedule->model(ScheduleEditor::Slot::Swd)->guidance();
    const double gFull = m_schedule->model(ScheduleEditor::Slot::Full)->guidance();
    if (gSwd > 1.0 && gFull > 1.0)
        m_prompt->setNegativeEnabled(true,
                                     tr("Used by both runs (guidance %1 and %2).").arg(gSwd).arg(gFull));
    else if (gFull > 1.0)
        m_prompt->setNegativeEnabled(true,
                                     tr("Used by the full-resolution run (guidance %1); the SwD schedule has "
                                        "guidance %2 and ignores it.")
                                         .arg(gFull)
                                         .arg(gSwd));
    else if (gSwd > 1.0)
        m_prompt->setNegativeEnabled(true,
                                     tr("Used by the SwD run (guidance %1); the full-resolution schedule has "
                                        "guidance %2 and ignores it.")
                                         .arg(gSwd)
                                         .arg(gFull));
    else
        m_prompt->setNegativeEnabled(
            false, tr("both schedules have guidance ≤ 1 (no classifier-free guidance), so a "
                      "negative prompt would change nothing. Raise the guidance above 1 to "
                      "use it."));
}

void MainWindow::showMessage(const QString& text, bool error) {
    m_message->setText(text);
    m_messageBar->setStyleSheet(error ? QStringLiteral("background: #fbe3e3; color: #7a0000;")
                                      : QStringLiteral("background: #e6f0fb; color: #0b3d6e;"));
    m_messageBar->show();
    statusBar()->showMessage(text.section(QLatin1Char('\n'), 0, 0), 10000);
}

void MainWindow::clearMessage() {
    m_messageBar->hide();
    m_message->clear();
}

void MainWindow::onDiscovered(const DiscoveryReport& report) {
    m_prompt->setDiscovery(report);
    if (!report.error.isEmpty()) showMessage(tr("Searching for models failed: %1").arg(report.error), true);
    bool anyUsable = false;
    for (const ModelEntry& m : report.models)
        if (!m.adapter && m.usable) anyUsable = true;
    // First start without any model: the demo model keeps the app usable, and says what to do.
    if (!anyUsable && m_settings.modelKey == QLatin1String("auto") && !m_autoDemoChosen) {
        m_autoDemoChosen = true;
        ModelChoice c = m_prompt->modelChoice();
        c.kind = ModelChoice::Kind::Demo;
        m_prompt->setModelChoice(c);
        statusBar()->showMessage(
            tr("No SD3.5 model found (searched %1): using the demo model (random weights). Add "
               "your model folder in Settings.")
                .arg(report.searched.isEmpty() ? tr("nowhere yet")
                                               : report.searched.join(QStringLiteral("; "))));
    } else {
        statusBar()->showMessage(tr("Found %1 models and adapters").arg(report.models.size()), 5000);
    }
}

void MainWindow::applyRestored(const RestoredRun& run) {
    const RunRequest& r = run.request;
    m_prompt->setPrompt(r.prompt);
    m_prompt->setNegativePrompt(r.negativePrompt);
    m_prompt->setSeed(r.seed);
    m_prompt->setSeedLocked(true);  // the next generation reproduces the run
    m_prompt->setDevice(r.device);
    m_prompt->setPrecision(QString::fromLatin1(precisionName(r.precision)));
    ModelChoice choice = m_prompt->modelChoice();
    if (run.modelName == QLatin1String("Demo model (tiny, random weights)"))
        choice.kind = ModelChoice::Kind::Demo;
    if (!run.fullResolution) {
        if (!r.useAdapter)
            choice.adapterKind = ModelChoice::AdapterKind::None;
        else if (choice.adapterKind == ModelChoice::AdapterKind::None)
            choice.adapterKind = ModelChoice::AdapterKind::FromPreset;
    }
    m_prompt->setModelChoice(choice);
    m_settings.previewMode = QString::fromLatin1(previewModeName(r.preview));
    const auto slot = run.fullResolution ? ScheduleEditor::Slot::Full : ScheduleEditor::Slot::Swd;
    m_schedule->setSchedule(slot, r.schedule);
    m_schedule->setCurrentSlot(slot);
    updateActions();
    updateNegativePrompt();
}

bool MainWindow::openImage(const QString& path) {
    const QImage image(path);
    RestoredRun run;
    QString error;
    try {
        run = restoreFromImageFile(path);
    } catch (const std::exception& e) {
        error = QString::fromUtf8(e.what());
    }
    if (image.isNull() && !error.isEmpty()) {
        showMessage(tr("Cannot open %1: %2").arg(path, error), true);
        return false;
    }
    const int side = error.isEmpty() && run.fullResolution ? 1 : 0;
    Shown s;
    s.image = image;
    s.label = error.isEmpty() ? sideLabel(run.request.label, run.request.seed) : QFileInfo(path).fileName();
    if (error.isEmpty()) {
        const ImageMetadata meta = readImageMetadata(path.toStdString());
        s.recordJson = QString::fromStdString(meta.request);
        s.parametersText = QString::fromStdString(meta.parameters);
        s.seed = run.request.seed;
    }
    setShown(side, s);
    if (!error.isEmpty()) {
        showMessage(
            tr("Showing %1; its settings could not be restored: %2").arg(QFileInfo(path).fileName(), error),
            true);
        return true;
    }
    applyRestored(run);
    clearMessage();
    QString note = tr("Restored every setting of %1 (%2).").arg(QFileInfo(path).fileName(), run.source);
    if (!run.notes.isEmpty()) note += QLatin1Char(' ') + run.notes.join(QLatin1Char(' '));
    showMessage(note, false);
    return true;
}

bool MainWindow::saveImage(const QString& path, bool slotB) {
    const Shown& s = m_shown[slotB ? 1 : 0];
    if (!s.valid()) return false;
    try {
        const auto format = imageFormatForPath(path.toStdString());
        if (!format) {
            showMessage(tr("Cannot save %1: use .png, .jpg, .tif or .exr").arg(path), true);
            return false;
        }
        // The file dialog already asked before replacing an existing file.
        if (QFile::exists(path)) QFile::remove(path);
        const ImageMetadata meta =
            runImageMetadata(s.parametersText.toStdString(), s.recordJson.toStdString());
        WriteOptions options;
        options.format = *format;
        const auto written = writeImage(path.toStdString(), toRgbImageF(s.image), meta, options);
        statusBar()->showMessage(tr("Saved %1").arg(QString::fromStdString(written.string())));
        return true;
    } catch (const std::exception& e) {
        showMessage(tr("Cannot save: %1").arg(QString::fromUtf8(e.what())), true);
        return false;
    }
}

void MainWindow::applyCalibration(const QString& modelKey) {
    QSettings settings;
    settings.beginGroup(QStringLiteral("calibration/") +
                        QString::fromLatin1(modelKey.toUtf8().toBase64(QByteArray::Base64UrlEncoding)));
    if (!settings.contains(QStringLiteral("flopsPerSecond"))) {
        m_schedule->setCostModel(TransformerShape::sd35Medium(), 4.0e11, false);
        m_schedule->setLimits(ScheduleLimits{});
        return;
    }
    TransformerShape t;
    t.hidden = settings.value(QStringLiteral("hidden"), t.hidden).toInt();
    t.depth = settings.value(QStringLiteral("depth"), t.depth).toInt();
    t.dualLayers = settings.value(QStringLiteral("dualLayers"), t.dualLayers).toInt();
    t.patch = settings.value(QStringLiteral("patch"), t.patch).toInt();
    t.jointDim = settings.value(QStringLiteral("jointDim"), t.jointDim).toInt();
    const QString unet = settings.value(QStringLiteral("unet")).toString();
    const DenoiserShape shape = unet.isEmpty()                  ? DenoiserShape(t)
                                : unet == QLatin1String("sdxl") ? DenoiserShape(UnetShape::sdxl())
                                                                : DenoiserShape(UnetShape::sd15());
    m_schedule->setCostModel(shape, settings.value(QStringLiteral("flopsPerSecond")).toDouble(),
                             settings.value(QStringLiteral("calibrated")).toBool());
    ScheduleLimits limits;
    limits.maxLatentSide = settings.value(QStringLiteral("maxLatentSide")).toInt();
    m_schedule->setLimits(limits);
}

void MainWindow::recall(const HistoryEntry& entry) {
    // Both runs of a Compare come back together: A and B, both strips; the settings are the clicked run's.
    for (const HistoryEntry& e : m_history->jobOf(entry))
        if (e.id != entry.id) showHistoryEntry(e);
    showHistoryEntry(entry);
    try {
        applyRestored(restoreFromRecordJson(entry.recordJson, tr("history entry %1").arg(entry.id)));
        statusBar()->showMessage(tr("Recalled the %1 run of %2").arg(entry.label, entry.created.toString()));
    } catch (const std::exception& e) {
        showMessage(
            tr("The history entry's settings could not be restored: %1").arg(QString::fromUtf8(e.what())),
            true);
    }
    updateActions();
}

void MainWindow::showHistoryEntry(const HistoryEntry& entry) {
    const int side = entry.label == kFullLabel ? 1 : 0;
    Shown s;
    s.image = entry.image();
    s.label = sideLabel(entry.label, entry.seed);
    s.recordJson = entry.recordJson;
    s.parametersText = entry.parametersText;
    s.samplingMs = entry.timings.samplingMs;
    s.totalMs = entry.timings.totalMs - entry.timings.loadMs;
    s.stepCount = entry.completedSteps;
    s.seed = entry.seed;
    setShown(side, s);
    m_strip->showRun(entry.label, entry.loadSteps());
    m_strip->setLaneSummary(entry.label,
                            tr("%1, %2 (from the history)")
                                .arg(stepsText(entry.completedSteps), formatSeconds(entry.timings.totalMs)));
}

void MainWindow::openSettings() {
    SettingsDialog dialog(m_settings, this);
    if (dialog.exec() != QDialog::Accepted) return;
    const AppSettings before = m_settings;
    AppSettings after = dialog.settings();
    after.save();
    applySettings(after);
    if (before.modelFolders != after.modelFolders || before.useHfCache != after.useHfCache)
        m_controller->discover();
}

void MainWindow::openImageDialog() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open image"), m_settings.outputFolder,
                                                      tr("Images (*.png *.jpg *.jpeg *.tif *.tiff *.exr)"));
    if (!path.isEmpty()) openImage(path);
}

void MainWindow::saveImageDialog() {
    const bool b = !m_shown[0].valid();
    const QString suggested = QDir(m_settings.outputFolder)
                                  .filePath((b ? QStringLiteral("full-resolution") : QStringLiteral("swd")) +
                                            QStringLiteral("-%1.png").arg(m_shown[b ? 1 : 0].seed));
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Save image"), suggested, tr("PNG (*.png);;JPEG (*.jpg);;TIFF (*.tif);;OpenEXR (*.exr)"));
    if (!path.isEmpty()) saveImage(path, b);
}

void MainWindow::showShortcuts() {
    QString text = QStringLiteral("<table>");
    for (QAction* a : actions()) {
        if (a->shortcut().isEmpty()) continue;
        text += QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>")
                    .arg(a->shortcut().toString(QKeySequence::NativeText).toHtmlEscaped(),
                         a->text().remove(QLatin1Char('&')));
    }
    text += tr(
        "<tr><td><b>Wheel / drag / double click</b></td><td>zoom, pan, fit or 1:1 in the compare "
        "view</td></tr>"
        "<tr><td><b>Ins / Del / Ctrl+D / Ctrl+V</b></td><td>insert, remove, duplicate rows, paste a list in "
        "the schedule table</td></tr></table>");
    QMessageBox::information(this, tr("Keyboard shortcuts"), text);
}

void MainWindow::setCompareMode(int mode) {
    m_compare->setMode(CompareView::Mode(mode));
    m_modeCombo->setCurrentIndex(mode);
    for (int i = 0; i < m_modeActions.size(); ++i) m_modeActions[i]->setChecked(i == mode);
}

void MainWindow::showEvent(QShowEvent* event) {
    QMainWindow::showEvent(event);
    describeDockTabs();
}

void MainWindow::describeDockTabs() {
    // QMainWindow makes the tab bars of tabified docks itself: give them and their tabs tooltips.
    for (QTabBar* bar : findChildren<QTabBar*>(QString(), Qt::FindDirectChildrenOnly)) {
        bar->setToolTip(tr("Switch between the schedule editor and the history"));
        for (int i = 0; i < bar->count(); ++i)
            bar->setTabToolTip(i, bar->tabText(i) == tr("History")
                                      ? tr("Every run kept, newest first: click to recall")
                                      : tr("Edit the SwD and full-resolution schedules"));
    }
}

void MainWindow::closeEvent(QCloseEvent* event) {
    // Results are written as they finish; a run in progress is asked to stop at its next step.
    if (m_controller->busy()) m_controller->cancel();
    m_settings.device = m_prompt->device();
    m_settings.precision = m_prompt->precision();
    m_settings.save();
    QSettings window;
    window.setValue(QStringLiteral("window/geometry"), saveGeometry());
    window.setValue(QStringLiteral("window/state"), saveState(kWindowStateVersion));
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile() && isImageFile(url.toLocalFile())) {
            event->acceptProposedAction();
            return;
        }
}

void MainWindow::dropEvent(QDropEvent* event) {
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile() && isImageFile(url.toLocalFile())) {
            openImage(url.toLocalFile());
            event->acceptProposedAction();
            return;
        }
}

}  // namespace swd::ui
