// The schedule editor: two schedules side by side in tabs (the SwD schedule and the full-resolution one it
// is compared with), each a table (ScheduleTableModel) and a chart of σ and scale that edit the same model,
// the preset picker (built-in and user presets; save and delete), and the schedule's other fields
// (sampler, guidance, T5 length; steps and shift to regenerate a full-resolution σ grid). The validation
// line under the table names the first problem; the main window disables Generate with that reason.
// The view follows the schedule's family: an SD1.5 / SDXL schedule (SiD, Euler discrete) shows its DDPM
// fields instead (t_init, trained grid K, run steps, noise mode), a timestep column instead of tokens,
// guidance off for SiD ("distilled") and no T5 length.
#pragma once

#include "pipeline/cost_model.h"
#include "preset_store.h"
#include "sampling/schedule.h"

#include <QWidget>

#include <memory>

class QAction;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QTabBar;
class QTableView;
class QToolButton;
class QVBoxLayout;
class QWidget;

namespace swd::ui {

class ScheduleChart;
class ScheduleTableModel;

class ScheduleEditor : public QWidget {
    Q_OBJECT

public:
    enum class Slot { Swd = 0, Full = 1 };

    // `presetFolder`: where user presets live (default: userPresetDir()).
    explicit ScheduleEditor(const QString& presetFolder = {}, QWidget* parent = nullptr);
    ~ScheduleEditor() override;

    ScheduleTableModel* model(Slot slot) const;
    Schedule schedule(Slot slot) const;
    void setSchedule(Slot slot, const Schedule& schedule);
    bool valid(Slot slot) const;
    // "" when the slot's schedule can run, else the first problem.
    QString problem(Slot slot) const;

    Slot currentSlot() const;
    void setCurrentSlot(Slot slot);

    PresetStore& presets() { return *m_presets; }
    // Loads a preset by id: a few-step preset (scale-wise, SiD) into the SwD slot (and its compare_with
    // preset into the full-resolution slot), a full-resolution preset into the full-resolution slot (and,
    // when the SwD slot holds another family, the few-step preset compared with it). False when unknown.
    bool loadPreset(const QString& id);
    QString currentPresetId() const;
    // Saves the current slot's schedule as a user preset; returns its id ("" and a message box on failure
    // unless `quiet`).
    QString saveCurrentAsPreset(const QString& name, bool quiet = false);
    void reloadPresets();

    // Settings and the loaded model feed the estimates and limits of both slots.
    void setT5Override(int length);
    void setLimits(const ScheduleLimits& limits);
    void setCostModel(const DenoiserShape& shape, double flopsPerSecond, bool calibrated);

    QTableView* tableView() const { return m_table; }
    ScheduleChart* chart() const { return m_chart; }
    QComboBox* presetCombo() const { return m_presetCombo; }

    // Paste the clipboard (or `text`) into the table at the current cell.
    void pasteList(const QString& text);

Q_SIGNALS:
    // Either schedule changed (cells, rows, fields) or its validity changed.
    void schedulesChanged();
    void presetChosen(const QString& id);

private:
    void buildUi();
    // Parts of buildUi, top to bottom: each adds its widgets to `layout` and connects them.
    void buildSlotTabs(QVBoxLayout* layout);
    void buildPresetRow(QVBoxLayout* layout);
    void buildFieldsRow(QVBoxLayout* layout);
    void buildGeneratorRow(QVBoxLayout* layout);
    void buildDdpmRow(QVBoxLayout* layout);
    void applyDdpmGrid();
    void syncDdpmFields();
    void applyColumns();
    const Schedule* fewStepPartner(const Schedule& full) const;
    void buildRowTools(QVBoxLayout* layout);
    void buildTableAndChart(QVBoxLayout* layout);
    void addTableShortcuts();
    void bindCurrentSlot();
    void syncFieldsFromModel();
    void fillSamplers(ModelFamily family);
    void updateStatus();
    void regenerateFullGrid();
    void fillPresetCombo();
    void insertRow();
    void removeRows();
    void duplicateRow();
    void pasteFromClipboard();
    void askPasteList();
    void askSavePreset();
    void deletePreset();

    std::unique_ptr<PresetStore> m_presets;
    ScheduleTableModel* m_models[2] = {nullptr, nullptr};
    QString m_presetId;
    bool m_syncing = false;

    QTabBar* m_tabs = nullptr;
    QComboBox* m_presetCombo = nullptr;
    QToolButton* m_savePreset = nullptr;
    QToolButton* m_deletePreset = nullptr;
    QComboBox* m_sampler = nullptr;
    QDoubleSpinBox* m_guidance = nullptr;
    QSpinBox* m_t5Length = nullptr;
    QWidget* m_generatorRow = nullptr;
    QSpinBox* m_genSteps = nullptr;
    QDoubleSpinBox* m_genShift = nullptr;
    QSpinBox* m_genScale = nullptr;
    QPushButton* m_genApply = nullptr;
    QWidget* m_ddpmRow = nullptr;
    QSpinBox* m_sidTInit = nullptr;
    QSpinBox* m_sidGrid = nullptr;
    QSpinBox* m_ddpmSteps = nullptr;
    QLabel* m_earlyExit = nullptr;
    QComboBox* m_sidNoise = nullptr;
    QLabel* m_customTimesteps = nullptr;
    QMetaObject::Connection m_columnsOnReset;
    QTableView* m_table = nullptr;
    ScheduleChart* m_chart = nullptr;
    QLabel* m_status = nullptr;
    QToolButton* m_insert = nullptr;
    QToolButton* m_remove = nullptr;
    QToolButton* m_duplicate = nullptr;
    QToolButton* m_paste = nullptr;
};

}  // namespace swd::ui
