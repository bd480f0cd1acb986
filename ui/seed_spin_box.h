// A spin box for 64-bit seeds (QSpinBox stops at 2^31 − 1; seeds of the core and of other tools use the
// whole unsigned 64-bit range). Arrow keys and the wheel step by one.
#pragma once

#include <QAbstractSpinBox>

namespace swd::ui {

class SeedSpinBox : public QAbstractSpinBox {
    Q_OBJECT

public:
    explicit SeedSpinBox(QWidget* parent = nullptr);

    quint64 value() const { return m_value; }
    void setValue(quint64 value);

    void stepBy(int steps) override;
    QValidator::State validate(QString& input, int& pos) const override;
    void fixup(QString& input) const override;
    QSize sizeHint() const override;

Q_SIGNALS:
    void valueChanged(quint64 value);

protected:
    StepEnabled stepEnabled() const override;

private:
    void commitText();

    quint64 m_value = 0;
};

}  // namespace swd::ui
