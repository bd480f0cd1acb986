#include "schedule_chart.h"

#include "schedule_table_model.h"

#include <QChart>
#include <QLegendMarker>
#include <QLineSeries>
#include <QMouseEvent>
#include <QValueAxis>

#include <algorithm>
#include <cmath>

namespace swd::ui {

ScheduleChart::ScheduleChart(QWidget* parent) : QChartView(parent) {
    auto* chart = new QChart;
    chart->setMargins(QMargins(4, 4, 4, 4));
    chart->legend()->setAlignment(Qt::AlignTop);
    chart->setBackgroundRoundness(0);
    m_sigma = new QLineSeries(chart);
    m_sigma->setPointsVisible(true);
    m_sigma->setMarkerSize(9);
    m_scale = new QLineSeries(chart);
    m_scale->setPointsVisible(true);
    m_scale->setMarkerSize(9);
    chart->addSeries(m_sigma);
    chart->addSeries(m_scale);

    m_stepAxis = new QValueAxis(chart);
    m_stepAxis->setLabelFormat(QStringLiteral("%d"));
    m_stepAxis->setTitleText(tr("step"));
    m_sigmaAxis = new QValueAxis(chart);
    m_sigmaAxis->setRange(0.0, 1.0);
    m_sigmaAxis->setLabelFormat(QStringLiteral("%.2f"));
    m_scaleAxis = new QValueAxis(chart);
    m_scaleAxis->setLabelFormat(QStringLiteral("%d"));
    chart->addAxis(m_stepAxis, Qt::AlignBottom);
    chart->addAxis(m_sigmaAxis, Qt::AlignLeft);
    chart->addAxis(m_scaleAxis, Qt::AlignRight);
    m_sigma->attachAxis(m_stepAxis);
    m_sigma->attachAxis(m_sigmaAxis);
    m_scale->attachAxis(m_stepAxis);
    m_scale->attachAxis(m_scaleAxis);
    m_sigmaAxis->setLinePenColor(m_sigma->color());
    m_sigmaAxis->setLabelsColor(m_sigma->color());
    m_scaleAxis->setLinePenColor(m_scale->color());
    m_scaleAxis->setLabelsColor(m_scale->color());

    setChart(chart);
    setRenderHint(QPainter::Antialiasing);
    setMouseTracking(true);
    setMinimumHeight(150);
    applyLabels(false);
    updateAxes();
}

void ScheduleChart::setModel(ScheduleTableModel* model) {
    if (m_model) disconnect(m_model, nullptr, this, nullptr);
    m_model = model;
    if (m_model) {
        connect(m_model, &QAbstractItemModel::modelReset, this, &ScheduleChart::rebuild);
        connect(m_model, &QAbstractItemModel::dataChanged, this, &ScheduleChart::rebuild);
        connect(m_model, &QAbstractItemModel::rowsInserted, this, &ScheduleChart::rebuild);
        connect(m_model, &QAbstractItemModel::rowsRemoved, this, &ScheduleChart::rebuild);
    }
    rebuild();
}

void ScheduleChart::setPointValue(Series series, int row, double value) {
    if (!m_model || row < 0 || row >= m_model->rowCount()) return;
    if (m_model->isDdpm()) {
        // The right series is the timestep; the noise level follows it.
        if (series == Series::Scale)
            m_model->setData(m_model->index(row, ScheduleTableModel::TimestepColumn),
                             static_cast<int>(std::lround(std::clamp(value, 0.0, 999.0))));
        return;
    }
    if (series == Series::Sigma) {
        const double sigma = std::round(std::clamp(value, 0.0, 1.0) * 10000.0) / 10000.0;
        m_model->setData(m_model->index(row, ScheduleTableModel::SigmaColumn), sigma);
    } else {
        m_model->setData(m_model->index(row, ScheduleTableModel::ScaleColumn), snapScale(value, m_maxScale));
    }
}

int ScheduleChart::snapScale(double value, int maxScale) {
    int v = static_cast<int>(std::lround(value / 2.0)) * 2;
    v = std::max(v, 2);
    if (maxScale > 0) v = std::min(v, maxScale - maxScale % 2);
    return v;
}

QPoint ScheduleChart::pointPosition(Series series, int row) const {
    if (!m_model) return {};
    QPointF value;
    QLineSeries* s = series == Series::Sigma ? m_sigma : m_scale;
    if (series == Series::Sigma) {
        const auto v = m_model->sigmaAt(row);
        if (!v) return {};
        value = QPointF(row + 1, *v);
    } else {
        const auto v = m_model->isDdpm() ? m_model->timestepAt(row) : m_model->scaleAt(row);
        if (!v) return {};
        value = QPointF(row + 1, *v);
    }
    const QPointF inChart = chart()->mapToPosition(value, s);
    return mapFromScene(chart()->mapToScene(inChart));
}

bool ScheduleChart::hitTest(const QPoint& pos, Series* series, int* row) const {
    if (!m_model) return false;
    double best = 12.0 * 12.0;
    bool found = false;
    for (Series s : {Series::Scale, Series::Sigma}) {
        if (s == Series::Sigma && m_model->isDdpm()) continue;  // derived from the timestep
        for (int r = 0; r < m_model->rowCount(); ++r) {
            const bool present = s == Series::Sigma  ? m_model->sigmaAt(r).has_value()
                                 : m_model->isDdpm() ? m_model->timestepAt(r).has_value()
                                                     : m_model->scaleAt(r).has_value();
            if (!present) continue;
            const QPoint p = pointPosition(s, r);
            const double dx = p.x() - pos.x(), dy = p.y() - pos.y();
            if (dx * dx + dy * dy < best) {
                best = dx * dx + dy * dy;
                *series = s;
                *row = r;
                found = true;
            }
        }
    }
    return found;
}

void ScheduleChart::mousePressEvent(QMouseEvent* event) {
    Series s;
    int row = -1;
    if (event->button() == Qt::LeftButton && hitTest(event->position().toPoint(), &s, &row)) {
        m_dragging = true;
        m_dragSeries = s;
        m_dragRow = row;
        Q_EMIT pointPressed(row);
        event->accept();
        return;
    }
    QChartView::mousePressEvent(event);
}

void ScheduleChart::mouseMoveEvent(QMouseEvent* event) {
    if (m_dragging) {
        QLineSeries* series = m_dragSeries == Series::Sigma ? m_sigma : m_scale;
        const QPointF inChart = chart()->mapFromScene(mapToScene(event->position().toPoint()));
        const QPointF value = chart()->mapToValue(inChart, series);
        setPointValue(m_dragSeries, m_dragRow, value.y());
        event->accept();
        return;
    }
    Series s;
    int row = -1;
    setCursor(hitTest(event->position().toPoint(), &s, &row) ? Qt::SizeVerCursor : Qt::ArrowCursor);
    QChartView::mouseMoveEvent(event);
}

void ScheduleChart::mouseReleaseEvent(QMouseEvent* event) {
    if (m_dragging) {
        m_dragging = false;
        m_dragRow = -1;
        updateAxes();
        event->accept();
        return;
    }
    QChartView::mouseReleaseEvent(event);
}

void ScheduleChart::rebuild() {
    QList<QPointF> sigma, scale;
    const bool ddpm = m_model && m_model->isDdpm();
    if (m_model) {
        for (int r = 0; r < m_model->rowCount(); ++r) {
            if (const auto v = m_model->sigmaAt(r)) sigma << QPointF(r + 1, *v);
            if (const auto v = ddpm ? m_model->timestepAt(r) : m_model->scaleAt(r))
                scale << QPointF(r + 1, *v);
        }
    }
    applyLabels(ddpm);
    // Smaller handles when there are many steps (a 40-step grid), so the curve stays readable.
    const qreal marker = sigma.size() > 24 ? 5 : sigma.size() > 12 ? 7 : 9;
    m_sigma->setMarkerSize(marker);
    m_scale->setMarkerSize(marker);
    m_sigma->replace(sigma);
    m_scale->replace(scale);
    // While a point is dragged the axes stay put, or the point would run away from the cursor.
    if (!m_dragging) updateAxes();
}

// SwD plots σ and scale; a DDPM schedule (one scale) its noise level √(1 − ᾱ_t) and timestep.
void ScheduleChart::applyLabels(bool ddpm) {
    if (m_ddpmLabels == ddpm && !m_sigma->name().isEmpty()) return;
    m_ddpmLabels = ddpm;
    m_sigma->setName(ddpm ? tr("noise level (left)") : tr("σ (left)"));
    m_scale->setName(ddpm ? tr("timestep (right)") : tr("scale (right)"));
    m_sigmaAxis->setTitleText(ddpm ? tr("noise level") : tr("σ"));
    m_scaleAxis->setTitleText(ddpm ? tr("timestep") : tr("scale"));
    setToolTip(ddpm ? tr("Noise level √(1 − ᾱ_t) (left axis) and timestep (right axis) per step. Drag a "
                         "timestep point up or down to edit it; the noise level follows.")
                    : tr("σ (left axis) and scale (right axis) per step. Drag a point up or down to edit "
                         "it; scales snap to even values."));
}

void ScheduleChart::updateAxes() {
    const int n = m_model ? m_model->rowCount() : 0;
    m_stepAxis->setRange(0.5, std::max(1, n) + 0.5);
    m_stepAxis->setTickType(QValueAxis::TicksDynamic);
    m_stepAxis->setTickAnchor(1.0);
    m_stepAxis->setTickInterval(n > 20 ? 5.0 : 1.0);
    if (m_model && m_model->isDdpm()) {
        m_scaleAxis->setRange(0, 1000);  // the DDPM timesteps' whole range
        m_scaleAxis->setTickCount(5);
        return;
    }
    int maxScale = 16;
    if (m_model)
        for (int r = 0; r < n; ++r) maxScale = std::max(maxScale, m_model->scaleAt(r).value_or(0));
    // Head room above the largest scale so it can be dragged up; rounded to 16.
    const int top = ((maxScale * 5 / 4 + 15) / 16) * 16;
    m_scaleAxis->setRange(0, top);
    m_scaleAxis->setTickCount(5);
}

}  // namespace swd::ui
