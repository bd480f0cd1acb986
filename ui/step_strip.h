// Every step of a run as a thumbnail of its decoded x0, labelled with scale, σ and time; one lane per run
// (the SwD lane and the full-resolution lane sit together, one above the other). Placeholders show the
// steps still to come; clicking (or Enter on) a thumbnail shows the step large.
#pragma once

#include "run_types.h"

#include <QHash>
#include <QWidget>

class QLabel;
class QListWidget;
class QVBoxLayout;

namespace swd::ui {

class StepStrip : public QWidget {
    Q_OBJECT

public:
    explicit StepStrip(QWidget* parent = nullptr);

    // Starts (or restarts) the lane of `label` with `stepCount` placeholders.
    void beginRun(const QString& label, int stepCount, const QList<int>& scales = {});
    // Fills in one step (its lane is created when missing).
    void addStep(const StepImage& step);
    // Replaces a lane's content with a finished run's steps (history recall).
    void showRun(const QString& label, const QList<StepImage>& steps);
    // The line under a lane's title: "6 steps, 8.1 s".
    void setLaneSummary(const QString& label, const QString& summary);
    void clear();

    QStringList laneLabels() const;
    QListWidget* lane(const QString& label) const;
    // Steps received so far in a lane.
    QList<StepImage> steps(const QString& label) const;
    static constexpr int kThumbSize = 80;

Q_SIGNALS:
    void stepActivated(const swd::ui::StepImage& step);

private:
    struct Lane {
        QWidget* box = nullptr;
        QLabel* title = nullptr;
        QListWidget* list = nullptr;
        QList<StepImage> steps;
    };
    Lane& ensureLane(const QString& label);
    void setItem(Lane& lane, const StepImage& step);

    QVBoxLayout* m_layout = nullptr;
    QLabel* m_empty = nullptr;
    QHash<QString, Lane> m_lanes;
    QStringList m_order;
};

}  // namespace swd::ui
