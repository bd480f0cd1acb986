// The schedule as a table, one row per step: step, scale (latent side), σ, tokens the transformer sees and
// the estimated time of the step. A DDPM schedule (SiD, Euler discrete: isDdpm()) adds the integer
// timestep, its only editable cell (SiD; Euler discrete's follow its step count); its σ column is the derived
// noise level √(1 − ᾱ_t), and its steps come from the sampler's grid (setSidGrid, setDdpmSteps). Scale and σ
// of a SwD schedule are editable; rows can be inserted, removed, duplicated and pasted as lists ("32,48,64",
// one per line, or two spreadsheet columns). Every edit is validated with the core's validateSchedule: a bad
// cell carries its reason (IssueRole, tooltip, red background) and valid() says whether the schedule can run.
// Tested headless; the editor's table view and chart both show it.
#pragma once

#include "pipeline/cost_model.h"
#include "sampling/schedule.h"

#include <QAbstractTableModel>
#include <QStringList>

#include <optional>
#include <vector>

namespace swd::ui {

class ScheduleTableModel : public QAbstractTableModel {
    Q_OBJECT

public:
    // TimestepColumn is last so that the SwD columns keep their numbers; the editor shows it second.
    enum Column { StepColumn, ScaleColumn, SigmaColumn, TokensColumn, MsColumn, TimestepColumn, ColumnCount };
    enum Role {
        IssueRole = Qt::UserRole + 1,  // QString: why the cell is invalid, "" when it is fine
        ValueRole,  // the raw number (int scale, double sigma), invalid QVariant when empty
    };

    explicit ScheduleTableModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    // Scale and σ take numbers or their text; an empty text clears the cell (which is then flagged).
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    // New rows continue the schedule: the previous row's scale and a σ halfway to the next one.
    bool insertRows(int row, int count, const QModelIndex& parent = {}) override;
    bool removeRows(int row, int count, const QModelIndex& parent = {}) override;
    // Inserts a copy of `row` right after it.
    bool duplicateRow(int row);

    // Pastes numbers into `column` (Scale or σ; the Step column means Scale) starting at `row`, adding rows
    // when the list is longer than the table. A list one longer than the σ rows that ends in 0 sets the
    // final σ too. Two tab-separated columns fill scale and σ. Returns the number of cells set; 0 and
    // lastPasteError() when the text holds something that is not a number.
    int pasteText(const QString& text, int row, int column);
    QString lastPasteError() const { return m_pasteError; }

    // The whole schedule: replaces every row and field.
    void setSchedule(const Schedule& schedule);
    // The schedule as edited (an empty scale reads 0, an empty σ NaN: both fail validation).
    Schedule schedule() const;

    double guidance() const { return m_meta.guidance; }
    void setGuidance(double guidance);
    int t5Length() const { return m_meta.t5Length; }
    void setT5Length(int length);
    SamplerKind sampler() const { return m_meta.sampler; }
    ModelFamily family() const { return m_meta.family; }
    // Between SiD and Euler discrete the timesteps are regenerated for the new sampler (SiD: no CFG).
    void setSampler(SamplerKind sampler);

    // DDPM schedules (SiD, Euler discrete).
    bool isDdpm() const { return isDdpmSampler(m_meta.sampler); }
    int sidTInit() const { return m_meta.sidTInit; }
    int sidGridSteps() const { return m_meta.sidGridSteps; }
    SidNoise sidNoise() const { return m_meta.sidNoise; }
    // SiD: regenerates the timesteps from t_init on the K-step grid, `steps` of them (clamped to 1..K).
    void setSidGrid(int tInit, int gridSteps, int steps);
    void setSidNoise(SidNoise noise);
    // SiD keeps t_init and K; Euler discrete regenerates its 'leading' grid.
    void setDdpmSteps(int steps);
    // True when the timesteps differ from the ones the sampler generates (the JSON then lists them).
    bool timestepsCustom() const;
    std::optional<int> timestepAt(int row) const;
    // A T5 length that overrides the schedule's in the token and time estimates (settings; 0: none).
    void setT5Override(int length);
    int effectiveT5Length() const { return m_t5Override > 0 ? m_t5Override : m_meta.t5Length; }
    // Limits the loaded model imposes (its positional table); default: the schedule's family.
    void setLimits(const ScheduleLimits& limits);
    // The cost model behind the time column: the transformer's shape and the measured throughput.
    void setCostModel(const DenoiserShape& shape, double flopsPerSecond, bool calibrated);
    bool costCalibrated() const { return m_calibrated; }

    // Validation of the current state.
    const std::vector<ScheduleIssue>& issues() const { return m_issues; }
    bool valid() const { return m_issues.empty(); }
    // Every problem as one readable line ("Step 3, scale: ..."), in table order.
    QStringList problems() const;
    QString firstProblem() const;
    QString cellIssue(int row, int column) const;
    // Issues of a non-table field ("guidance", "t5_length"), joined; "" when fine.
    QString fieldIssue(const QString& field) const;

    // Image tokens + 77 CLIP tokens + the T5 length; 0 for an empty scale.
    int tokens(int row) const;
    std::vector<double> estimatedStepMs() const;
    double estimatedTotalMs() const;
    int finalScale() const;

    // Raw cell values (std::nullopt when empty).
    std::optional<int> scaleAt(int row) const;
    std::optional<double> sigmaAt(int row) const;
    double finalSigma() const { return m_finalSigma; }

Q_SIGNALS:
    // After every change of a cell, a row or a field (not emitted during setSchedule's reset).
    void scheduleChanged();
    void validityChanged(bool valid);

private:
    struct Row {
        std::optional<int> scale;
        std::optional<double> sigma;  // DDPM: derived from the timestep
        std::optional<int> timestep;  // DDPM only
    };

    void revalidate();
    void edited();
    void refreshDerivedColumns();
    // Replaces the rows with a generated DDPM schedule's, keeping every other field.
    void resetDdpmRows(const Schedule& generated);
    void refreshNoiseLevel(Row& row) const;
    int pasteTimesteps(const QString& text, int row);
    int ddpmScale() const;

    Schedule m_meta;  // every field but scales and sigmas
    std::vector<Row> m_rows;
    double m_finalSigma = 0.0;
    int m_t5Override = 0;
    ScheduleLimits m_limits;
    DenoiserShape m_shape;
    double m_flopsPerSecond = 4.0e11;
    bool m_calibrated = false;
    std::vector<ScheduleIssue> m_issues;
    std::vector<std::vector<QString>> m_cellIssues;  // [row][column]
    QStringList m_otherIssues;                       // issues not tied to a cell
    QString m_pasteError;
    bool m_lastValid = true;
};

}  // namespace swd::ui
