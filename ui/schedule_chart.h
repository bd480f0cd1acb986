// A plot of the schedule: σ per step on the left axis, scale per step on the right axis. Points can be
// dragged up and down: σ is clamped to [0, 1], scales snap to even values (the patch size). A DDPM
// schedule (SiD, Euler discrete) plots its noise level and timestep instead; its timesteps drag. The chart
// edits the same ScheduleTableModel the table shows, so both always agree.
#pragma once

#include <QChartView>
#include <QPointer>

class QLineSeries;
class QValueAxis;

namespace swd::ui {

class ScheduleTableModel;

class ScheduleChart : public QChartView {
    Q_OBJECT

public:
    enum class Series { Sigma, Scale };

    explicit ScheduleChart(QWidget* parent = nullptr);

    void setModel(ScheduleTableModel* model);
    ScheduleTableModel* model() const { return m_model; }

    QLineSeries* sigmaSeries() const { return m_sigma; }
    QLineSeries* scaleSeries() const { return m_scale; }

    // What dragging does (DDPM: the Scale series is the timestep, rounded to 0..999): sets the σ (clamped to
    // [0, 1]) or the scale (snapped to an even value ≥ 2, at most `maxScale` when set) of `row` from a value
    // on that series' axis.
    void setPointValue(Series series, int row, double value);
    // Where a point is drawn, in viewport coordinates (for hit tests and tests).
    QPoint pointPosition(Series series, int row) const;
    // The row whose point of `series` is at x (in step units).
    static int snapScale(double value, int maxScale = 0);
    void setMaxScale(int maxScale) { m_maxScale = maxScale; }

Q_SIGNALS:
    // A point was picked up (row), for the table to select the row.
    void pointPressed(int row);

protected:
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;

private:
    void rebuild();
    void updateAxes();
    void applyLabels(bool ddpm);
    bool hitTest(const QPoint& pos, Series* series, int* row) const;

    QPointer<ScheduleTableModel> m_model;
    QLineSeries* m_sigma = nullptr;
    QLineSeries* m_scale = nullptr;
    QValueAxis* m_stepAxis = nullptr;
    QValueAxis* m_sigmaAxis = nullptr;
    QValueAxis* m_scaleAxis = nullptr;
    bool m_dragging = false;
    Series m_dragSeries = Series::Sigma;
    int m_dragRow = -1;
    int m_maxScale = 0;
    bool m_ddpmLabels = false;
};

}  // namespace swd::ui
