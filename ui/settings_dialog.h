// The settings dialog: model folders (and the Hugging Face cache), output folder and format, preview mode,
// T5 length override and thread count.
#pragma once

#include "settings.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QLineEdit;
class QListWidget;
class QSpinBox;

namespace swd::ui {

class SettingsDialog : public QDialog {
    Q_OBJECT

public:
    explicit SettingsDialog(const AppSettings& settings, QWidget* parent = nullptr);

    // The settings as edited (fields the dialog does not show are kept from the constructor's).
    AppSettings settings() const;

private:
    void addFolder();
    void removeFolder();
    void browseOutput();

    AppSettings m_base;
    QListWidget* m_folders = nullptr;
    QCheckBox* m_hfCache = nullptr;
    QLineEdit* m_output = nullptr;
    QComboBox* m_format = nullptr;
    QComboBox* m_preview = nullptr;
    QLineEdit* m_taesd = nullptr;
    QSpinBox* m_t5 = nullptr;
    QSpinBox* m_threads = nullptr;
};

}  // namespace swd::ui
