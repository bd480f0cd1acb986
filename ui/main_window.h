// The main window of SwD Studio: prompt and model pickers (left), the compare view over the step strips
// (centre), the schedule editor and the history (right), with the actions Generate SwD (Ctrl+Enter),
// Generate full resolution (Ctrl+Shift+Enter), Compare both (Ctrl+Alt+Enter), Cancel (Esc), Save (Ctrl+S)
// and Open image (Ctrl+O, or drop a file), and the progress of the running job.
#pragma once

#include "generation_worker.h"
#include "run_types.h"
#include "settings.h"

#include <QMainWindow>

class QAction;
class QComboBox;
class QDockWidget;
class QHBoxLayout;
class QLabel;
class QProgressBar;
class QPushButton;
class QToolButton;

namespace swd::ui {

class CompareView;
class GenerationController;
class HistoryPanel;
class HistoryStore;
class PromptPanel;
class ScheduleEditor;
class StepStrip;
struct HistoryEntry;
struct RestoredRun;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    struct Options {
        GenerationWorker::BackendFactory backend;  // default: the engine
        QString historyDir;                        // default: AppDataLocation/history
        QString presetDir;                         // default: AppDataLocation/presets
        bool discoverModels = true;                // search model folders at start
    };
    enum class RunKind { Swd, Full, Compare };

    MainWindow();
    explicit MainWindow(const Options& options, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Starts a generation as the actions do; false (with the reason in the message bar) when it cannot.
    bool generate(RunKind kind);
    void cancel();
    // Opens an image: shows it and restores every setting stored in it. False when it cannot be read.
    bool openImage(const QString& path);
    // Saves the image shown as A (or B when `slotB`) with its settings to `path`.
    bool saveImage(const QString& path, bool slotB = false);
    void recall(const HistoryEntry& entry);
    void applyRestored(const RestoredRun& run);

    AppSettings settings() const { return m_settings; }
    void applySettings(const AppSettings& settings);

    PromptPanel* promptPanel() const { return m_prompt; }
    ScheduleEditor* scheduleEditor() const { return m_schedule; }
    CompareView* compareView() const { return m_compare; }
    StepStrip* stepStrip() const { return m_strip; }
    HistoryStore* historyStore() const { return m_history; }
    HistoryPanel* historyPanel() const { return m_historyPanel; }
    GenerationController* controller() const { return m_controller; }
    QAction* action(const QString& objectName) const;
    QString messageText() const;
    QString summaryText() const;
    // The request the action would run now (without drawing a new seed).
    RunRequest requestFor(RunKind kind, quint64 seed) const;

Q_SIGNALS:
    // A job ended (finished, cancelled or failed) and the window shows its outcome.
    void jobSettled();

protected:
    void showEvent(QShowEvent* event) override;
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    // What the compare view shows on one side, with what it takes to save it with its settings.
    struct Shown {
        QImage image;
        QString label;
        QString recordJson;
        QString parametersText;
        double samplingMs = 0, totalMs = 0;
        int stepCount = 0;
        quint64 seed = 0;
        int jobId = -1;
        bool valid() const { return !image.isNull(); }
    };

    void buildActions();
    void buildUi();
    // Parts of buildUi: the tool bar, the docks (left: prompt and run buttons; right: schedule and
    // history, tabbed) and the central compare area.
    void buildToolBar();
    QDockWidget* buildPromptDock();
    QWidget* buildRunButtons(QWidget* left);
    QDockWidget* buildRightDocks();
    QWidget* buildCentre();
    void buildMessageBar(QWidget* centre);
    QHBoxLayout* buildViewBar(QWidget* centre);
    void buildMenus();
    void updateActions();
    void updateNegativePrompt();
    void updateSummary();
    void showMessage(const QString& text, bool error);
    void clearMessage();
    void onDiscovered(const DiscoveryReport& report);
    void onRunFinished(const RunResult& result);
    void onJobFinished(int jobId, bool cancelled, bool failed);
    void showStep(const StepImage& step);
    void openSettings();
    void openImageDialog();
    void saveImageDialog();
    void showShortcuts();
    void setCompareMode(int mode);
    void describeDockTabs();
    void applyCalibration(const QString& modelKey);
    void showHistoryEntry(const HistoryEntry& entry);
    void setShown(int side, const Shown& shown);
    static QString sideLabel(const QString& runLabel, quint64 seed);

    AppSettings m_settings;
    GenerationController* m_controller = nullptr;
    HistoryStore* m_history = nullptr;
    PromptPanel* m_prompt = nullptr;
    ScheduleEditor* m_schedule = nullptr;
    CompareView* m_compare = nullptr;
    StepStrip* m_strip = nullptr;
    HistoryPanel* m_historyPanel = nullptr;
    QLabel* m_message = nullptr;
    QWidget* m_messageBar = nullptr;
    QLabel* m_summary = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_progressText = nullptr;
    QComboBox* m_modeCombo = nullptr;
    QPushButton* m_swdButton = nullptr;
    QPushButton* m_fullButton = nullptr;
    QPushButton* m_compareButton = nullptr;
    QPushButton* m_cancelButton = nullptr;
    QAction* m_actSwd = nullptr;
    QAction* m_actFull = nullptr;
    QAction* m_actCompare = nullptr;
    QAction* m_actCancel = nullptr;
    QAction* m_actSave = nullptr;
    QAction* m_actOpen = nullptr;
    QAction* m_actSettings = nullptr;
    QAction* m_actQuit = nullptr;
    QAction* m_actFit = nullptr;
    QAction* m_actActual = nullptr;
    QAction* m_actSwap = nullptr;
    QAction* m_actShortcuts = nullptr;
    QList<QAction*> m_modeActions;
    Shown m_shown[2];
    RunKind m_jobKind = RunKind::Swd;
    int m_jobId = 0;
    QString m_jobKey;
    QString m_jobModelKey;
    bool m_jobHadError = false;
    bool m_autoDemoChosen = false;
};

}  // namespace swd::ui
