// What to generate: prompt, negative prompt (greyed out, with the reason, while no schedule uses guidance
// above 1), seed (spin box, randomise, lock), the model and adapter pickers (found models plus the demo
// model), device and precision.
#pragma once

#include "run_types.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QPlainTextEdit;
class QToolButton;

namespace swd::ui {

class SeedSpinBox;

class PromptPanel : public QWidget {
    Q_OBJECT

public:
    explicit PromptPanel(QWidget* parent = nullptr);

    QString prompt() const;
    void setPrompt(const QString& text);
    QString negativePrompt() const;
    void setNegativePrompt(const QString& text);
    // The negative prompt is only used by runs with guidance > 1: greyed out otherwise, `reason` as tooltip.
    void setNegativeEnabled(bool enabled, const QString& reason);
    bool negativeEnabled() const;

    quint64 seed() const;
    void setSeed(quint64 seed);
    bool seedLocked() const;
    void setSeedLocked(bool locked);
    // The seed of a new generation: a fresh random one unless the seed is locked.
    quint64 seedForNextRun();
    void randomizeSeed();

    // Fills the pickers from discovery (keeps the current choice when it is still offered).
    void setDiscovery(const DiscoveryReport& report);
    ModelChoice modelChoice() const;
    void setModelChoice(const ModelChoice& choice);
    QString device() const;
    void setDevice(const QString& device);
    QString precision() const;
    void setPrecision(const QString& precision);

    QPlainTextEdit* promptEdit() const { return m_prompt; }
    QPlainTextEdit* negativeEdit() const { return m_negative; }
    SeedSpinBox* seedBox() const { return m_seed; }
    QComboBox* modelCombo() const { return m_model; }
    QComboBox* adapterCombo() const { return m_adapter; }

Q_SIGNALS:
    void changed();

private:
    static void selectData(QComboBox* combo, const QString& data);

    QPlainTextEdit* m_prompt = nullptr;
    QPlainTextEdit* m_negative = nullptr;
    QLabel* m_negativeLabel = nullptr;
    SeedSpinBox* m_seed = nullptr;
    QToolButton* m_randomize = nullptr;
    QToolButton* m_lock = nullptr;
    QComboBox* m_model = nullptr;
    QComboBox* m_adapter = nullptr;
    QComboBox* m_device = nullptr;
    QComboBox* m_precision = nullptr;
};

}  // namespace swd::ui
