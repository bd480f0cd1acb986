#include "compare_view.h"

#include "image_conversion.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace swd::ui {

namespace {
constexpr double kMinZoom = 0.02;
constexpr double kMaxZoom = 64.0;
constexpr int kGap = 4;
}  // namespace

CompareView::CompareView(QWidget* parent) : QWidget(parent) {
    setFocusPolicy(Qt::StrongFocus);
    setMouseTracking(true);
    setMinimumSize(200, 150);
    setAttribute(Qt::WA_OpaquePaintEvent);
    updateToolTip();
}

void CompareView::setImageA(const QImage& image, const QString& label) {
    const bool sizeChanged = image.size() != m_a.size();
    m_a = image;
    m_labelA = label;
    updateDifference();
    if (sizeChanged && m_fit) fitToWindow();
    update();
}

void CompareView::setImageB(const QImage& image, const QString& label) {
    m_b = image;
    m_labelB = label;
    updateDifference();
    if (m_a.isNull() && m_fit) fitToWindow();
    update();
}

void CompareView::clearB() {
    m_b = QImage();
    m_labelB.clear();
    updateDifference();
    update();
}

void CompareView::swap() {
    std::swap(m_a, m_b);
    std::swap(m_labelA, m_labelB);
    updateDifference();
    update();
}

void CompareView::setMode(Mode mode) {
    if (mode == m_mode) return;
    m_mode = mode;
    if (m_fit) fitToWindow();
    updateToolTip();
    update();
    Q_EMIT modeChanged(mode);
}

QString CompareView::modeName(Mode mode) {
    switch (mode) {
        case Mode::SideBySide:
            return tr("Side by side");
        case Mode::Wipe:
            return tr("Wipe");
        case Mode::Difference:
            return tr("Difference");
        case Mode::Toggle:
            return tr("A/B toggle");
    }
    return {};
}

void CompareView::setView(double zoom, const QPointF& center) {
    m_zoom = std::clamp(zoom, kMinZoom, kMaxZoom);
    m_center = center;
    m_fit = false;
    update();
    Q_EMIT viewChanged();
}

void CompareView::fitToWindow() {
    const QSizeF content = contentSize();
    const QRectF pane = paneRect(0);
    if (content.isEmpty() || pane.isEmpty()) {
        m_fit = true;
        return;
    }
    m_zoom = std::clamp(std::min(pane.width() / content.width(), pane.height() / content.height()), kMinZoom,
                        kMaxZoom);
    m_center = QPointF(content.width() / 2.0, content.height() / 2.0);
    m_fit = true;
    update();
    Q_EMIT viewChanged();
}

void CompareView::actualSize() {
    const QSizeF content = contentSize();
    const QPointF keep = m_fit ? QPointF(content.width() / 2.0, content.height() / 2.0) : m_center;
    setView(1.0 / devicePixelRatioF(), keep);
}

void CompareView::zoomAt(const QPointF& widgetPos, double factor) {
    int pane = paneAt(widgetPos);
    if (pane < 0) pane = 0;
    const QPointF anchor = mapToImage(pane, widgetPos);
    const double zoom = std::clamp(m_zoom * factor, kMinZoom, kMaxZoom);
    // Keep `anchor` under the cursor: center' = anchor − (pos − paneCentre) / zoom'.
    const QPointF offset = widgetPos - paneRect(pane).center();
    setView(zoom, anchor - offset / zoom);
}

void CompareView::panBy(const QPointF& widgetDelta) {
    setView(m_zoom, m_center - widgetDelta / m_zoom);
}

void CompareView::setWipePosition(double position) {
    m_wipe = std::clamp(position, 0.0, 1.0);
    update();
    Q_EMIT viewChanged();
}

void CompareView::toggleAB() {
    m_showB = !m_showB;
    update();
    Q_EMIT viewChanged();
}

int CompareView::paneCount() const {
    return m_mode == Mode::SideBySide ? 2 : 1;
}

QRectF CompareView::paneRect(int pane) const {
    const QRectF all = rect();
    if (paneCount() == 1) return all;
    const double w = (all.width() - kGap) / 2.0;
    return pane == 0 ? QRectF(all.left(), all.top(), w, all.height())
                     : QRectF(all.left() + w + kGap, all.top(), w, all.height());
}

QPointF CompareView::mapToImage(int pane, const QPointF& widgetPos) const {
    return m_center + (widgetPos - paneRect(pane).center()) / m_zoom;
}

QPointF CompareView::mapFromImage(int pane, const QPointF& imagePos) const {
    return paneRect(pane).center() + (imagePos - m_center) * m_zoom;
}

int CompareView::paneAt(const QPointF& widgetPos) const {
    for (int i = 0; i < paneCount(); ++i)
        if (paneRect(i).contains(widgetPos)) return i;
    return -1;
}

QSizeF CompareView::contentSize() const {
    if (!m_a.isNull()) return m_a.size();
    if (!m_b.isNull()) return m_b.size();
    return {};
}

QRectF CompareView::imageRectIn(int pane) const {
    const QSizeF c = contentSize();
    return QRectF(mapFromImage(pane, QPointF(0, 0)), mapFromImage(pane, QPointF(c.width(), c.height())));
}

void CompareView::updateDifference() {
    // Live previews replace the images many times per run: the map is only computed when it is shown.
    m_diff = QImage();
    m_diffDirty = true;
}

QImage CompareView::differenceMap() const {
    if (m_diffDirty) {
        m_diff = (!m_a.isNull() && !m_b.isNull()) ? differenceImage(m_a, m_b) : QImage();
        m_diffDirty = false;
    }
    return m_diff;
}

double CompareView::wipeX() const {
    const QRectF r = imageRectIn(0);
    return r.left() + m_wipe * r.width();
}

void CompareView::drawImage(QPainter& p, const QImage& image, int pane, const QRectF& clip) const {
    if (image.isNull()) return;
    p.save();
    p.setClipRect(clip);
    // Smooth when shrinking; crisp pixels when magnified (pixel-peeping the differences).
    p.setRenderHint(QPainter::SmoothPixmapTransform, m_zoom * devicePixelRatioF() < 2.0);
    p.drawImage(imageRectIn(pane), image);
    p.restore();
}

void CompareView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), QColor(48, 48, 48));
    auto label = [&](const QRectF& pane, const QString& text, bool right) {
        if (text.isEmpty()) return;
        const QFontMetrics fm(font());
        const QRect box(0, 0, fm.horizontalAdvance(text) + 12, fm.height() + 6);
        QRect at = box.translated(int(pane.left()) + 6, int(pane.top()) + 6);
        if (right) at.moveRight(int(pane.right()) - 6);
        p.fillRect(at, QColor(0, 0, 0, 160));
        p.setPen(Qt::white);
        p.drawText(at, Qt::AlignCenter, text);
    };
    if (m_a.isNull() && m_b.isNull()) {
        p.setPen(QColor(200, 200, 200));
        p.drawText(
            rect(), Qt::AlignCenter | Qt::TextWordWrap,
            tr("Generate, or open an image (Ctrl+O or drop it here).\nCompare shows SwD and full resolution "
               "side by side."));
        return;
    }
    switch (m_mode) {
        case Mode::SideBySide:
            for (int i = 0; i < 2; ++i) {
                const QRectF pane = paneRect(i);
                drawImage(p, i == 0 ? m_a : m_b, 0 + i, pane);
                const QImage& shown = i == 0 ? m_a : m_b;
                if (!shown.isNull())
                    label(pane,
                          (i == 0 ? QStringLiteral("A: ") : QStringLiteral("B: ")) +
                              (i == 0 ? m_labelA : m_labelB),
                          false);
            }
            p.fillRect(QRectF(paneRect(0).right(), 0, kGap, height()), QColor(30, 30, 30));
            break;
        case Mode::Wipe: {
            const double x = wipeX();
            drawImage(p, m_a, 0, QRectF(QPointF(0, 0), QPointF(x, height())));
            drawImage(p, m_b.isNull() ? m_a : m_b, 0, QRectF(QPointF(x, 0), QPointF(width(), height())));
            p.setPen(QPen(Qt::white, 2));
            p.drawLine(QPointF(x, 0), QPointF(x, height()));
            p.setBrush(Qt::white);
            p.drawEllipse(QPointF(x, height() / 2.0), 6, 6);
            label(rect(), QStringLiteral("A: ") + m_labelA, false);
            if (!m_b.isNull()) label(rect(), QStringLiteral("B: ") + m_labelB, true);
            break;
        }
        case Mode::Difference: {
            const QImage diff = differenceMap();
            drawImage(p, diff.isNull() ? m_a : diff, 0, rect());
            label(rect(), diff.isNull() ? tr("Difference needs two images") : tr("|A − B| × 4"), false);
            break;
        }
        case Mode::Toggle: {
            const bool b = m_showB && !m_b.isNull();
            drawImage(p, b ? m_b : m_a, 0, rect());
            label(rect(), b ? QStringLiteral("B: ") + m_labelB : QStringLiteral("A: ") + m_labelA, false);
            break;
        }
    }
    if (hasFocus()) {
        p.setPen(QPen(palette().highlight().color(), 1));
        p.setBrush(Qt::NoBrush);
        p.drawRect(rect().adjusted(0, 0, -1, -1));
    }
}

void CompareView::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    if (m_fit) fitToWindow();
}

void CompareView::wheelEvent(QWheelEvent* event) {
    const double steps = event->angleDelta().y() / 120.0;
    if (steps == 0) return;
    zoomAt(event->position(), std::pow(1.25, steps));
    event->accept();
}

void CompareView::mousePressEvent(QMouseEvent* event) {
    setFocus(Qt::MouseFocusReason);
    m_lastPos = event->position();
    if (event->button() != Qt::LeftButton && event->button() != Qt::MiddleButton) return;
    if (m_mode == Mode::Wipe && event->button() == Qt::LeftButton &&
        std::abs(event->position().x() - wipeX()) <= 8)
        m_drag = Drag::Wipe;
    else
        m_drag = Drag::Pan;
    event->accept();
}

void CompareView::mouseMoveEvent(QMouseEvent* event) {
    const QPointF pos = event->position();
    if (m_drag == Drag::Pan) {
        panBy(pos - m_lastPos);
    } else if (m_drag == Drag::Wipe) {
        const QRectF r = imageRectIn(0);
        if (r.width() > 0) setWipePosition((pos.x() - r.left()) / r.width());
    } else {
        const bool overDivider = m_mode == Mode::Wipe && std::abs(pos.x() - wipeX()) <= 8;
        setCursor(overDivider ? Qt::SplitHCursor : Qt::OpenHandCursor);
    }
    m_lastPos = pos;
}

void CompareView::mouseReleaseEvent(QMouseEvent*) {
    m_drag = Drag::None;
}

void CompareView::mouseDoubleClickEvent(QMouseEvent* event) {
    // Double click: fit, or 1:1 at the clicked point when already fitting.
    if (m_fit) {
        const int pane = std::max(0, paneAt(event->position()));
        const QPointF at = mapToImage(pane, event->position());
        setView(1.0 / devicePixelRatioF(), at);
    } else {
        fitToWindow();
    }
}

void CompareView::keyPressEvent(QKeyEvent* event) {
    const double step = 40.0;
    switch (event->key()) {
        case Qt::Key_Plus:
        case Qt::Key_Equal:
            zoomAt(rect().center(), 1.25);
            break;
        case Qt::Key_Minus:
            zoomAt(rect().center(), 0.8);
            break;
        case Qt::Key_Left:
            if (m_mode == Mode::Wipe && event->modifiers() & Qt::ShiftModifier)
                setWipePosition(m_wipe - 0.05);
            else
                panBy(QPointF(step, 0));
            break;
        case Qt::Key_Right:
            if (m_mode == Mode::Wipe && event->modifiers() & Qt::ShiftModifier)
                setWipePosition(m_wipe + 0.05);
            else
                panBy(QPointF(-step, 0));
            break;
        case Qt::Key_Up:
            panBy(QPointF(0, step));
            break;
        case Qt::Key_Down:
            panBy(QPointF(0, -step));
            break;
        case Qt::Key_F:
            fitToWindow();
            break;
        case Qt::Key_1:
            actualSize();
            break;
        case Qt::Key_Space:
            if (m_mode == Mode::Toggle)
                toggleAB();
            else
                QWidget::keyPressEvent(event);
            break;
        default:
            QWidget::keyPressEvent(event);
            return;
    }
    event->accept();
}

void CompareView::updateToolTip() {
    QString tip =
        tr("Wheel: zoom at the cursor · drag: pan (both sides move together) · double click: fit / 1:1 · "
           "keys: + − arrows, F fit, 1 actual size");
    if (m_mode == Mode::Wipe) tip += tr("\nDrag the white divider (or Shift+←/→) to wipe between A and B");
    if (m_mode == Mode::Toggle) tip += tr("\nSpace switches between A and B");
    setToolTip(tip);
}

}  // namespace swd::ui
