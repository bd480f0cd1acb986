#include "prompt_panel.h"

#include "seed_spin_box.h"

#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QRandomGenerator>
#include <QStandardItemModel>
#include <QToolButton>
#include <QVBoxLayout>

namespace swd::ui {

PromptPanel::PromptPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->setSpacing(4);

    auto* promptLabel = new QLabel(tr("&Prompt"), this);
    m_prompt = new QPlainTextEdit(this);
    m_prompt->setObjectName(QStringLiteral("promptEdit"));
    m_prompt->setPlaceholderText(tr("Describe the image…"));
    m_prompt->setToolTip(tr("What the image should show. Ctrl+Enter generates with the SwD schedule."));
    m_prompt->setTabChangesFocus(true);
    promptLabel->setBuddy(m_prompt);
    layout->addWidget(promptLabel);
    layout->addWidget(m_prompt, 3);

    m_negativeLabel = new QLabel(tr("&Negative prompt"), this);
    m_negative = new QPlainTextEdit(this);
    m_negative->setObjectName(QStringLiteral("negativeEdit"));
    m_negative->setPlaceholderText(tr("What to steer away from (needs guidance > 1)"));
    m_negative->setTabChangesFocus(true);
    m_negativeLabel->setBuddy(m_negative);
    layout->addWidget(m_negativeLabel);
    layout->addWidget(m_negative, 2);

    auto* form = new QFormLayout;
    form->setContentsMargins(0, 4, 0, 0);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    form->setLabelAlignment(Qt::AlignRight | Qt::AlignVCenter);

    auto* seedRow = new QHBoxLayout;
    seedRow->setSpacing(2);
    m_seed = new SeedSpinBox(this);
    m_seed->setObjectName(QStringLiteral("seedSpin"));
    m_seed->setToolTip(
        tr("Seed of the noise (image i of a batch uses seed + i). The same seed and settings give "
           "the same image on any device."));
    m_randomize = new QToolButton(this);
    m_randomize->setObjectName(QStringLiteral("randomizeSeedButton"));
    m_randomize->setIcon(QIcon(QStringLiteral(":/icons/dice.svg")));
    m_randomize->setText(tr("Randomise"));
    m_randomize->setToolTip(tr("Pick a new random seed now"));
    m_lock = new QToolButton(this);
    m_lock->setObjectName(QStringLiteral("lockSeedButton"));
    m_lock->setCheckable(true);
    m_lock->setIcon(QIcon(QStringLiteral(":/icons/lock.svg")));
    m_lock->setText(tr("Lock"));
    m_lock->setToolTip(
        tr("Locked: every generation uses this seed. Unlocked: each generation draws a new seed "
           "(Compare always runs both schedules with one seed)."));
    seedRow->addWidget(m_seed, 1);
    seedRow->addWidget(m_randomize);
    seedRow->addWidget(m_lock);
    auto* seedLabel = new QLabel(tr("&Seed"), this);
    seedLabel->setBuddy(m_seed);
    form->addRow(seedLabel, seedRow);

    m_model = new QComboBox(this);
    m_model->setObjectName(QStringLiteral("modelCombo"));
    m_model->setToolTip(
        tr("The base model: found in your model folders and the Hugging Face cache, or the "
           "built-in demo model (tiny, random weights: for trying the app)"));
    m_model->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_model->setMinimumContentsLength(12);
    auto* modelLabel = new QLabel(tr("&Model"), this);
    modelLabel->setBuddy(m_model);
    form->addRow(modelLabel, m_model);

    m_adapter = new QComboBox(this);
    m_adapter->setObjectName(QStringLiteral("adapterCombo"));
    m_adapter->setToolTip(
        tr("The SwD adapter (LoRA) of SwD runs: the one the preset names, none, or a found "
           "adapter. Full-resolution runs never use it."));
    m_adapter->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_adapter->setMinimumContentsLength(12);
    auto* adapterLabel = new QLabel(tr("&Adapter"), this);
    adapterLabel->setBuddy(m_adapter);
    form->addRow(adapterLabel, m_adapter);

    m_device = new QComboBox(this);
    m_device->setObjectName(QStringLiteral("deviceCombo"));
    m_device->setToolTip(
        tr("Where the model runs: the CPU, or a CUDA GPU when this build and machine have one"));
    m_device->addItem(QStringLiteral("cpu"), QStringLiteral("cpu"));
    m_precision = new QComboBox(this);
    m_precision->setObjectName(QStringLiteral("precisionCombo"));
    m_precision->setToolTip(
        tr("Weights and compute precision. Auto: bf16 on the CPU and on recent GPUs; fp32 is "
           "exact but slow; fp16 is GPU only."));
    for (const char* p : {"auto", "bf16", "fp16", "fp32"})
        m_precision->addItem(QString::fromLatin1(p), QString::fromLatin1(p));
    auto* deviceLabel = new QLabel(tr("&Device"), this);
    deviceLabel->setBuddy(m_device);
    form->addRow(deviceLabel, m_device);
    auto* precisionLabel = new QLabel(tr("P&recision"), this);
    precisionLabel->setBuddy(m_precision);
    form->addRow(precisionLabel, m_precision);
    layout->addLayout(form);

    DiscoveryReport empty;
    empty.devices << QStringLiteral("cpu");
    setDiscovery(empty);
    setNegativeEnabled(false, QString());
    randomizeSeed();

    connect(m_randomize, &QToolButton::clicked, this, &PromptPanel::randomizeSeed);
    connect(m_lock, &QToolButton::toggled, this, [this](bool locked) {
        m_lock->setIcon(
            QIcon(locked ? QStringLiteral(":/icons/lock.svg") : QStringLiteral(":/icons/unlock.svg")));
        Q_EMIT changed();
    });
    m_lock->setIcon(QIcon(QStringLiteral(":/icons/unlock.svg")));
    connect(m_prompt, &QPlainTextEdit::textChanged, this, &PromptPanel::changed);
    connect(m_negative, &QPlainTextEdit::textChanged, this, &PromptPanel::changed);
    connect(m_seed, &SeedSpinBox::valueChanged, this, &PromptPanel::changed);
    for (QComboBox* c : {m_model, m_adapter, m_device, m_precision})
        connect(c, qOverload<int>(&QComboBox::currentIndexChanged), this, &PromptPanel::changed);
}

QString PromptPanel::prompt() const {
    return m_prompt->toPlainText();
}

void PromptPanel::setPrompt(const QString& text) {
    m_prompt->setPlainText(text);
}

QString PromptPanel::negativePrompt() const {
    return m_negative->toPlainText();
}

void PromptPanel::setNegativePrompt(const QString& text) {
    m_negative->setPlainText(text);
}

void PromptPanel::setNegativeEnabled(bool enabled, const QString& reason) {
    m_negative->setEnabled(enabled);
    m_negativeLabel->setEnabled(enabled);
    const QString tip = enabled ? tr("What the image should not show. %1").arg(reason)
                                : tr("Not used: %1")
                                      .arg(reason.isEmpty() ? tr("guidance is 1 or less, so there is "
                                                                 "no classifier-free guidance")
                                                            : reason);
    m_negative->setToolTip(tip.trimmed());
    m_negativeLabel->setToolTip(tip.trimmed());
}

bool PromptPanel::negativeEnabled() const {
    return m_negative->isEnabled();
}

quint64 PromptPanel::seed() const {
    return m_seed->value();
}

void PromptPanel::setSeed(quint64 seed) {
    m_seed->setValue(seed);
}

bool PromptPanel::seedLocked() const {
    return m_lock->isChecked();
}

void PromptPanel::setSeedLocked(bool locked) {
    m_lock->setChecked(locked);
}

quint64 PromptPanel::seedForNextRun() {
    if (!seedLocked()) randomizeSeed();
    return seed();
}

void PromptPanel::randomizeSeed() {
    // 32-bit seeds are easy to read and type; any 64-bit value typed in is used as it is.
    m_seed->setValue(QRandomGenerator::global()->bounded(quint32(4294967295u)));
}

void PromptPanel::setDiscovery(const DiscoveryReport& report) {
    const ModelChoice keep = modelChoice();
    const QString keepDevice = device();
    {
        const QSignalBlocker b1(m_model), b2(m_adapter), b3(m_device);
        m_model->clear();
        m_model->addItem(tr("Automatic (the preset's model)"), QStringLiteral("auto"));
        m_model->setItemData(0,
                             tr("The model the preset's family and adapter call for, from the models found"),
                             Qt::ToolTipRole);
        m_adapter->clear();
        m_adapter->addItem(tr("The preset's adapter"), QStringLiteral("preset"));
        m_adapter->setItemData(0,
                               tr("The SwD adapter the preset names, found in your folders or the HF cache"),
                               Qt::ToolTipRole);
        m_adapter->addItem(tr("None (base model)"), QStringLiteral("none"));
        m_adapter->setItemData(1, tr("Run the SwD schedule on the base model without an adapter"),
                               Qt::ToolTipRole);
        for (const ModelEntry& m : report.models) {
            QComboBox* combo = m.adapter ? m_adapter : m_model;
            combo->addItem(m.name, QStringLiteral("path:") + m.path);
            const int i = combo->count() - 1;
            QString tip =
                m.summary + QLatin1Char('\n') + m.path + QStringLiteral(" (") + m.origin + QLatin1Char(')');
            if (!m.usable) {
                tip += QLatin1Char('\n') + tr("Cannot be used:") + QLatin1Char('\n') +
                       m.problems.join(QLatin1Char('\n'));
                if (auto* model = qobject_cast<QStandardItemModel*>(combo->model()))
                    model->item(i)->setEnabled(false);
            }
            combo->setItemData(i, tip, Qt::ToolTipRole);
        }
        m_model->addItem(tr("Demo model (tiny, random weights)"), QStringLiteral("demo"));
        m_model->setItemData(
            m_model->count() - 1,
            tr("A tiny model of the SD3 architecture with random weights, built in: it runs in "
               "seconds and shows every feature, but its images are noise patterns"),
            Qt::ToolTipRole);
        m_device->clear();
        for (const QString& d :
             report.devices.isEmpty() ? QStringList{QStringLiteral("cpu")} : report.devices)
            m_device->addItem(d, d);
    }
    setModelChoice(keep);
    setDevice(keepDevice);
}

ModelChoice PromptPanel::modelChoice() const {
    return ModelChoice::fromKeys(m_model->currentData().toString(), m_adapter->currentData().toString());
}

void PromptPanel::setModelChoice(const ModelChoice& choice) {
    selectData(m_model, choice.modelKey());
    selectData(m_adapter, choice.adapterKey());
}

QString PromptPanel::device() const {
    return m_device->currentData().toString();
}

void PromptPanel::setDevice(const QString& device) {
    selectData(m_device, device);
}

QString PromptPanel::precision() const {
    return m_precision->currentData().toString();
}

void PromptPanel::setPrecision(const QString& precision) {
    selectData(m_precision, precision);
}

void PromptPanel::selectData(QComboBox* combo, const QString& data) {
    const int i = combo->findData(data);
    if (i >= 0) combo->setCurrentIndex(i);
}

}  // namespace swd::ui
