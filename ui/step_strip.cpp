#include "step_strip.h"

#include "image_conversion.h"

#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QVBoxLayout>

namespace swd::ui {

namespace {

constexpr int kStepRole = Qt::UserRole + 1;

QString stepText(const StepImage& s) {
    // A DDPM step (one size throughout) is told by its timestep, which is what its model sees.
    if (s.timestep >= 0)
        return QObject::tr("t %1 · noise %2\n%3 ms")
            .arg(s.timestep)
            .arg(s.sigma, 0, 'f', 3)
            .arg(s.ms, 0, 'f', 0);
    return QObject::tr("%1 · σ %2\n%3 ms").arg(s.scale).arg(s.sigma, 0, 'f', 3).arg(s.ms, 0, 'f', 0);
}

QString stepTip(const StepImage& s) {
    if (s.timestep >= 0)
        return QObject::
            tr("%1, step %2 of %3\ntimestep %4, noise level %5 at %6×%6 px\n%7 ms (model %8 ms), %9 s into "
               "the run\nClick or press Enter to show it large")
                .arg(s.runLabel)
                .arg(s.index + 1)
                .arg(s.stepCount)
                .arg(s.timestep)
                .arg(s.sigma, 0, 'f', 4)
                .arg(8 * s.scale)
                .arg(s.ms, 0, 'f', 0)
                .arg(s.modelMs, 0, 'f', 0)
                .arg(s.elapsedMs / 1000.0, 0, 'f', 1);
    return QObject::tr(
               "%1, step %2 of %3\nscale %4 (%5×%5 px), σ %6 → %7\n%8 ms (transformer %9 ms), %10 s into the "
               "run\nClick or press Enter to show it large")
        .arg(s.runLabel)
        .arg(s.index + 1)
        .arg(s.stepCount)
        .arg(s.scale)
        .arg(8 * s.scale)
        .arg(s.sigma, 0, 'f', 4)
        .arg(s.sigmaNext, 0, 'f', 4)
        .arg(s.ms, 0, 'f', 0)
        .arg(s.modelMs, 0, 'f', 0)
        .arg(s.elapsedMs / 1000.0, 0, 'f', 1);
}

QIcon placeholderIcon(int size) {
    QPixmap pm(size, size);
    pm.fill(QColor(70, 70, 70));
    QPainter p(&pm);
    p.setPen(QPen(QColor(110, 110, 110), 1, Qt::DashLine));
    p.drawRect(pm.rect().adjusted(2, 2, -3, -3));
    return QIcon(pm);
}

}  // namespace

StepStrip::StepStrip(QWidget* parent) : QWidget(parent) {
    m_layout = new QVBoxLayout(this);
    m_layout->setContentsMargins(2, 2, 2, 2);
    m_layout->setSpacing(2);
    m_empty = new QLabel(
        tr("Each run's steps appear here: the decoded x0 of every step, labelled with scale, σ and time."),
        this);
    m_empty->setWordWrap(true);
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setEnabled(false);
    m_layout->addWidget(m_empty);
    m_layout->addStretch(1);
}

StepStrip::Lane& StepStrip::ensureLane(const QString& label) {
    auto it = m_lanes.find(label);
    if (it != m_lanes.end()) return *it;
    Lane lane;
    lane.box = new QWidget(this);
    auto* v = new QVBoxLayout(lane.box);
    v->setContentsMargins(0, 0, 0, 0);
    v->setSpacing(0);
    lane.title = new QLabel(label, lane.box);
    lane.title->setStyleSheet(QStringLiteral("font-weight: bold;"));
    lane.list = new QListWidget(lane.box);
    lane.list->setObjectName(label == kSwdLabel ? QStringLiteral("swdStrip") : QStringLiteral("fullStrip"));
    lane.list->setViewMode(QListView::IconMode);
    lane.list->setFlow(QListView::LeftToRight);
    lane.list->setWrapping(false);
    lane.list->setMovement(QListView::Static);
    lane.list->setResizeMode(QListView::Adjust);
    lane.list->setIconSize(QSize(kThumbSize, kThumbSize));
    lane.list->setSpacing(2);
    lane.list->setUniformItemSizes(true);
    lane.list->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    lane.list->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    const int textHeight = 2 * fontMetrics().height();
    lane.list->setGridSize(QSize(kThumbSize + fontMetrics().horizontalAdvance(QStringLiteral("00")) + 16,
                                 kThumbSize + textHeight + 8));
    lane.list->setFixedHeight(kThumbSize + textHeight + 8 + style()->pixelMetric(QStyle::PM_ScrollBarExtent) +
                              6);
    lane.list->setToolTip(tr("Every step of the %1 run: its decoded x0 with scale, σ and time. Click a step "
                             "(or select it and press Enter) to show it large.")
                              .arg(label));
    v->addWidget(lane.title);
    v->addWidget(lane.list);
    connect(lane.list, &QListWidget::itemClicked, this, [this](QListWidgetItem* item) {
        if (item->data(kStepRole).isValid()) Q_EMIT stepActivated(item->data(kStepRole).value<StepImage>());
    });
    connect(lane.list, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) {
        if (item->data(kStepRole).isValid()) Q_EMIT stepActivated(item->data(kStepRole).value<StepImage>());
    });
    // The SwD lane first, then the full-resolution lane, then anything else in arrival order.
    m_order << label;
    std::stable_sort(m_order.begin(), m_order.end(), [](const QString& a, const QString& b) {
        auto rank = [](const QString& l) { return l == kSwdLabel ? 0 : l == kFullLabel ? 1 : 2; };
        return rank(a) < rank(b);
    });
    m_layout->insertWidget(int(m_order.indexOf(label)) + 1, lane.box);
    m_empty->hide();
    return *m_lanes.insert(label, lane);
}

void StepStrip::beginRun(const QString& label, int stepCount, const QList<int>& scales) {
    Lane& lane = ensureLane(label);
    lane.steps.clear();
    lane.list->clear();
    lane.title->setText(label);
    const QIcon placeholder = placeholderIcon(kThumbSize);
    for (int i = 0; i < stepCount; ++i) {
        auto* item = new QListWidgetItem(
            placeholder,
            i < scales.size() ? tr("%1 · step %2\n…").arg(scales[i]).arg(i + 1) : tr("step %1\n…").arg(i + 1),
            lane.list);
        item->setTextAlignment(Qt::AlignHCenter | Qt::AlignTop);
        item->setToolTip(tr("Step %1 of %2: not run yet").arg(i + 1).arg(stepCount));
    }
}

void StepStrip::setItem(Lane& lane, const StepImage& step) {
    while (lane.list->count() <= step.index) {
        auto* item = new QListWidgetItem(placeholderIcon(kThumbSize),
                                         tr("step %1").arg(lane.list->count() + 1), lane.list);
        item->setTextAlignment(Qt::AlignHCenter | Qt::AlignTop);
    }
    QListWidgetItem* item = lane.list->item(step.index);
    QIcon icon;
    if (!step.image.isNull()) {
        const qreal dpr = devicePixelRatioF();
        const QSize box(int(kThumbSize * dpr), int(kThumbSize * dpr));
        QPixmap pm = QPixmap::fromImage(thumbnail(step.image, box, true));
        pm.setDevicePixelRatio(dpr);
        icon = QIcon(pm);
    } else {
        icon = placeholderIcon(kThumbSize);
    }
    item->setIcon(icon);
    item->setText(stepText(step));
    item->setToolTip(stepTip(step));
    item->setData(kStepRole, QVariant::fromValue(step));
}

void StepStrip::addStep(const StepImage& step) {
    Lane& lane = ensureLane(step.runLabel);
    lane.steps.append(step);
    setItem(lane, step);
    lane.list->scrollToItem(lane.list->item(step.index));
}

void StepStrip::showRun(const QString& label, const QList<StepImage>& steps) {
    beginRun(label, int(steps.size()));
    Lane& lane = ensureLane(label);
    for (const StepImage& s : steps) {
        lane.steps.append(s);
        setItem(lane, s);
    }
}

void StepStrip::setLaneSummary(const QString& label, const QString& summary) {
    Lane& lane = ensureLane(label);
    lane.title->setText(summary.isEmpty() ? label : label + QStringLiteral(" — ") + summary);
}

void StepStrip::clear() {
    for (Lane& lane : m_lanes) delete lane.box;
    m_lanes.clear();
    m_order.clear();
    m_empty->show();
}

QStringList StepStrip::laneLabels() const {
    return m_order;
}

QListWidget* StepStrip::lane(const QString& label) const {
    const auto it = m_lanes.find(label);
    return it == m_lanes.end() ? nullptr : it->list;
}

QList<StepImage> StepStrip::steps(const QString& label) const {
    const auto it = m_lanes.find(label);
    return it == m_lanes.end() ? QList<StepImage>() : it->steps;
}

}  // namespace swd::ui
