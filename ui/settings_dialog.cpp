#include "settings_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSpinBox>
#include <QThread>
#include <QVBoxLayout>

namespace swd::ui {

namespace {

// A labelled form row of a path edit and its Browse button (the label's buddy is the edit); returns the
// button for the caller to connect.
QPushButton* addPathRow(QFormLayout* form, QLineEdit* edit, const QString& label, const QString& browseText,
                        const QString& browseTip) {
    QWidget* parent = edit->parentWidget();
    auto* row = new QHBoxLayout;
    auto* browse = new QPushButton(browseText, parent);
    browse->setToolTip(browseTip);
    row->addWidget(edit, 1);
    row->addWidget(browse);
    auto* rowLabel = new QLabel(label, parent);
    rowLabel->setBuddy(edit);
    form->addRow(rowLabel, row);
    return browse;
}

}  // namespace

SettingsDialog::SettingsDialog(const AppSettings& settings, QWidget* parent)
    : QDialog(parent), m_base(settings) {
    setWindowTitle(tr("Settings"));
    auto* layout = new QVBoxLayout(this);

    auto* models = new QGroupBox(tr("Model folders"), this);
    auto* mv = new QVBoxLayout(models);
    m_folders = new QListWidget(models);
    m_folders->setObjectName(QStringLiteral("modelFolderList"));
    m_folders->setToolTip(
        tr("Folders searched (recursively, a few levels deep) for SD3 / SD3.5 models and SwD "
           "adapters: diffusers folders, single-file checkpoints, PEFT adapters"));
    m_folders->addItems(settings.modelFolders);
    auto* buttons = new QHBoxLayout;
    auto* add = new QPushButton(tr("&Add folder…"), models);
    add->setToolTip(tr("Add a folder to search for models"));
    auto* remove = new QPushButton(tr("&Remove"), models);
    remove->setToolTip(tr("Stop searching the selected folder (nothing is deleted)"));
    buttons->addWidget(add);
    buttons->addWidget(remove);
    buttons->addStretch(1);
    m_hfCache = new QCheckBox(
        tr("Also search the &Hugging Face cache (HF_HUB_CACHE, HF_HOME, ~/.cache/huggingface)"), models);
    m_hfCache->setToolTip(tr("Models downloaded with huggingface_hub are used in place, never copied"));
    m_hfCache->setChecked(settings.useHfCache);
    mv->addWidget(m_folders);
    mv->addLayout(buttons);
    mv->addWidget(m_hfCache);
    layout->addWidget(models);
    connect(add, &QPushButton::clicked, this, &SettingsDialog::addFolder);
    connect(remove, &QPushButton::clicked, this, &SettingsDialog::removeFolder);

    auto* form = new QFormLayout;
    m_output = new QLineEdit(settings.outputFolder, this);
    m_output->setObjectName(QStringLiteral("outputFolderEdit"));
    m_output->setToolTip(
        tr("Every result is written here as soon as it finishes, with the settings that restore it"));
    auto* browse =
        addPathRow(form, m_output, tr("&Output folder"), tr("&Browse…"), tr("Choose the output folder"));
    connect(browse, &QPushButton::clicked, this, &SettingsDialog::browseOutput);

    m_format = new QComboBox(this);
    m_format->setToolTip(
        tr("File format of saved results: 8- or 16-bit PNG (with the run in text chunks), JPEG, "
           "TIFF or OpenEXR"));
    for (const QString& f : outputFormatIds()) m_format->addItem(f, f);
    m_format->setCurrentIndex(m_format->findData(settings.outputFormat));
    form->addRow(tr("&Format"), m_format);

    m_preview = new QComboBox(this);
    m_preview->setObjectName(QStringLiteral("previewModeCombo"));
    m_preview->setToolTip(
        tr("How each step's x0 is turned into the strip's image: the full VAE (exact, slowest), "
           "TAESD (needs its weights), a linear latent projection (instant), or off"));
    for (const QString& p : previewModeIds()) m_preview->addItem(previewModeLabel(p), p);
    m_preview->setCurrentIndex(m_preview->findData(settings.previewMode));
    form->addRow(tr("Step &previews"), m_preview);

    m_taesd = new QLineEdit(settings.taesdPath, this);
    m_taesd->setObjectName(QStringLiteral("taesdPathEdit"));
    m_taesd->setPlaceholderText(tr("madebyollin/taesd3 folder or its .safetensors file"));
    m_taesd->setToolTip(
        tr("Weights of the TAESD3 tiny decoder, for the TAESD step previews (about 0.3 s a 512-px "
           "preview on a CPU). Without them TAESD previews fall back to the latent projection"));
    auto* browseTaesd =
        addPathRow(form, m_taesd, tr("TAESD &weights"), tr("Brow&se…"), tr("Choose the TAESD3 weights file"));
    connect(browseTaesd, &QPushButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(this, tr("TAESD3 weights"), m_taesd->text(),
                                                          tr("Safetensors (*.safetensors)"));
        if (!file.isEmpty()) m_taesd->setText(file);
    });

    m_t5 = new QSpinBox(this);
    m_t5->setObjectName(QStringLiteral("t5OverrideSpin"));
    m_t5->setRange(0, 512);
    m_t5->setSpecialValueText(tr("the schedule's"));
    m_t5->setValue(settings.t5Length);
    m_t5->setToolTip(
        tr("T5 tokens for every run; shorter is faster for short prompts. 0 keeps each schedule's own"));
    form->addRow(tr("&T5 length"), m_t5);

    m_threads = new QSpinBox(this);
    m_threads->setObjectName(QStringLiteral("threadsSpin"));
    m_threads->setRange(0, 256);
    m_threads->setSpecialValueText(tr("all (%1)").arg(QThread::idealThreadCount()));
    m_threads->setValue(settings.threads);
    m_threads->setToolTip(tr("CPU threads libtorch uses (0: every hardware thread)"));
    form->addRow(tr("T&hreads"), m_threads);
    layout->addLayout(form);

    auto* box = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    box->button(QDialogButtonBox::Ok)->setToolTip(tr("Keep these settings"));
    box->button(QDialogButtonBox::Cancel)->setToolTip(tr("Discard the changes"));
    layout->addWidget(box);
    connect(box, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(box, &QDialogButtonBox::rejected, this, &QDialog::reject);
    resize(620, 480);
}

AppSettings SettingsDialog::settings() const {
    AppSettings s = m_base;
    s.modelFolders.clear();
    for (int i = 0; i < m_folders->count(); ++i) s.modelFolders << m_folders->item(i)->text();
    s.useHfCache = m_hfCache->isChecked();
    s.outputFolder = m_output->text().trimmed();
    s.outputFormat = m_format->currentData().toString();
    s.previewMode = m_preview->currentData().toString();
    s.taesdPath = m_taesd->text().trimmed();
    s.t5Length = m_t5->value();
    s.threads = m_threads->value();
    return s;
}

void SettingsDialog::addFolder() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Model folder"));
    if (!dir.isEmpty() && m_folders->findItems(dir, Qt::MatchExactly).isEmpty()) m_folders->addItem(dir);
}

void SettingsDialog::removeFolder() {
    delete m_folders->takeItem(m_folders->currentRow());
}

void SettingsDialog::browseOutput() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Output folder"), m_output->text());
    if (!dir.isEmpty()) m_output->setText(dir);
}

}  // namespace swd::ui
