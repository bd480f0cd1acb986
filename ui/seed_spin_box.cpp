#include "seed_spin_box.h"

#include <QLineEdit>
#include <QStyle>
#include <QStyleOptionSpinBox>

#include <limits>

namespace swd::ui {

SeedSpinBox::SeedSpinBox(QWidget* parent) : QAbstractSpinBox(parent) {
    setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    lineEdit()->setText(QStringLiteral("0"));
    connect(this, &QAbstractSpinBox::editingFinished, this, &SeedSpinBox::commitText);
    connect(lineEdit(), &QLineEdit::textEdited, this, [this](const QString& text) {
        bool ok = false;
        const quint64 v = text.toULongLong(&ok);
        if (ok && v != m_value) {
            m_value = v;
            Q_EMIT valueChanged(m_value);
        }
    });
}

void SeedSpinBox::setValue(quint64 value) {
    const QString text = QString::number(value);
    if (lineEdit()->text() != text) lineEdit()->setText(text);
    if (value == m_value) return;
    m_value = value;
    Q_EMIT valueChanged(m_value);
}

void SeedSpinBox::stepBy(int steps) {
    quint64 v = m_value;
    if (steps > 0) {
        const quint64 room = std::numeric_limits<quint64>::max() - v;
        v += std::min<quint64>(room, static_cast<quint64>(steps));
    } else {
        v -= std::min<quint64>(v, static_cast<quint64>(-static_cast<qint64>(steps)));
    }
    setValue(v);
    selectAll();
}

QValidator::State SeedSpinBox::validate(QString& input, int& /*pos*/) const {
    if (input.isEmpty()) return QValidator::Intermediate;
    for (QChar c : input)
        if (!c.isDigit()) return QValidator::Invalid;
    bool ok = false;
    input.toULongLong(&ok);
    return ok ? QValidator::Acceptable : QValidator::Invalid;
}

void SeedSpinBox::fixup(QString& input) const {
    if (input.isEmpty()) input = QString::number(m_value);
}

QSize SeedSpinBox::sizeHint() const {
    ensurePolished();
    const QFontMetrics fm(font());
    const int w = fm.horizontalAdvance(QStringLiteral("18446744073709551615")) + 8;
    QStyleOptionSpinBox opt;
    initStyleOption(&opt);
    const QSize content(w, fm.height() + 4);
    return style()->sizeFromContents(QStyle::CT_SpinBox, &opt, content, this);
}

QAbstractSpinBox::StepEnabled SeedSpinBox::stepEnabled() const {
    StepEnabled e = StepNone;
    if (m_value > 0) e |= StepDownEnabled;
    if (m_value < std::numeric_limits<quint64>::max()) e |= StepUpEnabled;
    return e;
}

void SeedSpinBox::commitText() {
    bool ok = false;
    const quint64 v = lineEdit()->text().toULongLong(&ok);
    setValue(ok ? v : m_value);
}

}  // namespace swd::ui
