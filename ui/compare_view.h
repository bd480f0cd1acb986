// Two images compared: side by side, a slider wipe, a difference map or an A/B toggle. Both sides share one
// view (zoom and pan), so what is under the cursor in one pane is the same image point in the other: the
// wheel zooms around the cursor, dragging pans, fit and 1:1 (one image pixel per device pixel) reset it.
// Images of different sizes (a 256 px step against a 1024 px result) are shown over the same area.
#pragma once

#include <QImage>
#include <QWidget>

namespace swd::ui {

class CompareView : public QWidget {
    Q_OBJECT

public:
    enum class Mode { SideBySide, Wipe, Difference, Toggle };

    explicit CompareView(QWidget* parent = nullptr);

    void setImageA(const QImage& image, const QString& label);
    void setImageB(const QImage& image, const QString& label);
    void clearB();
    QImage imageA() const { return m_a; }
    QImage imageB() const { return m_b; }
    QString labelA() const { return m_labelA; }
    QString labelB() const { return m_labelB; }
    bool hasB() const { return !m_b.isNull(); }
    void swap();

    Mode mode() const { return m_mode; }
    void setMode(Mode mode);
    static QString modeName(Mode mode);

    // The shared view: screen pixels per image pixel and the image point at the centre of each pane.
    double zoom() const { return m_zoom; }
    QPointF center() const { return m_center; }
    bool fitting() const { return m_fit; }
    void setView(double zoom, const QPointF& center);
    void fitToWindow();
    void actualSize();
    // Zooms by `factor` keeping the image point under `widgetPos` in place.
    void zoomAt(const QPointF& widgetPos, double factor);
    // Moves the view by a distance in widget pixels.
    void panBy(const QPointF& widgetDelta);

    // Wipe: where B starts, as a fraction of the image width (0..1).
    double wipePosition() const { return m_wipe; }
    void setWipePosition(double position);
    // Toggle: which image is shown.
    bool showingB() const { return m_showB; }
    void toggleAB();

    // Geometry, for hit tests and tests: the panes (two side by side, else one) in widget coordinates, and
    // the mapping between a pane's widget coordinates and image coordinates (in A's pixels).
    int paneCount() const;
    QRectF paneRect(int pane) const;
    QPointF mapToImage(int pane, const QPointF& widgetPos) const;
    QPointF mapFromImage(int pane, const QPointF& imagePos) const;
    int paneAt(const QPointF& widgetPos) const;
    // The difference map (computed on first use after either image changed; null without two images).
    QImage differenceMap() const;

Q_SIGNALS:
    void viewChanged();
    void modeChanged(swd::ui::CompareView::Mode mode);

protected:
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;

private:
    QSizeF contentSize() const;
    QRectF imageRectIn(int pane) const;  // where the content lands in widget coordinates
    void updateDifference();
    void drawImage(QPainter& p, const QImage& image, int pane, const QRectF& clip) const;
    double wipeX() const;
    void updateToolTip();

    QImage m_a, m_b;
    mutable QImage m_diff;
    mutable bool m_diffDirty = false;
    QString m_labelA, m_labelB;
    Mode m_mode = Mode::SideBySide;
    double m_zoom = 1.0;
    QPointF m_center;
    bool m_fit = true;
    double m_wipe = 0.5;
    bool m_showB = false;
    enum class Drag { None, Pan, Wipe } m_drag = Drag::None;
    QPointF m_lastPos;
};

}  // namespace swd::ui
