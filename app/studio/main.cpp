// swd-studio: the SwD Studio desktop application.
//
//   swd-studio [IMAGE...]                 open the app (an image given is opened and its settings restored)
//   swd-studio --demo --run compare --screenshot shot.png
//                                         run a generation on the demo model and save a picture of the window
#include "compare_view.h"
#include "generation_controller.h"
#include "history_store.h"
#include "main_window.h"
#include "prompt_panel.h"
#include "schedule_editor.h"
#include "settings_dialog.h"
#include "step_strip.h"
#include "util/runtime.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDockWidget>
#include <QListWidget>
#include <QTimer>

#include <cstdio>

namespace {

constexpr const char* kAppId = "org.swdstudio.SwDStudio";

// Saves a picture of the window and quits (the --screenshot option).
void grabAndQuit(swd::ui::MainWindow* window, const QString& file) {
    const QPixmap shot = window->grab();
    const bool ok = shot.save(file);
    std::printf("%s%s\n", qPrintable(file), ok ? "" : " (could not be written)");
    std::fflush(stdout);
    QCoreApplication::exit(ok ? 0 : 1);
}

// The command line's options (see the file's head), with their help texts.
struct StudioOptions {
    const QCommandLineOption screenshot{
        QStringLiteral("screenshot"),
        QStringLiteral("Save a picture of the window to FILE once it settles (or once "
                       "--run finishes), then quit"),
        QStringLiteral("FILE")};
    const QCommandLineOption run{QStringLiteral("run"),
                                 QStringLiteral("Start a generation: swd, full or compare"),
                                 QStringLiteral("KIND")};
    const QCommandLineOption demo{QStringLiteral("demo"), QStringLiteral("Use the built-in demo model")};
    const QCommandLineOption prompt{QStringLiteral("prompt"), QStringLiteral("The prompt"),
                                    QStringLiteral("TEXT")};
    const QCommandLineOption seed{QStringLiteral("seed"), QStringLiteral("The seed (locks it)"),
                                  QStringLiteral("N")};
    const QCommandLineOption preset{QStringLiteral("preset"), QStringLiteral("Schedule preset id"),
                                    QStringLiteral("ID")};
    const QCommandLineOption output{QStringLiteral("output-folder"),
                                    QStringLiteral("Write results to DIR in this session"),
                                    QStringLiteral("DIR")};
    const QCommandLineOption mode{QStringLiteral("compare-mode"),
                                  QStringLiteral("side, wipe, difference or toggle"), QStringLiteral("MODE")};
    const QCommandLineOption step{QStringLiteral("show-step"),
                                  QStringLiteral("After --run, show step N of the SwD run large"),
                                  QStringLiteral("N")};
    const QCommandLineOption history{QStringLiteral("show-history"), QStringLiteral("Show the history tab")};
    const QCommandLineOption fullTab{QStringLiteral("show-full-schedule"),
                                     QStringLiteral("Show the full-resolution schedule in the editor")};
    const QCommandLineOption recallOpt{
        QStringLiteral("recall"), QStringLiteral("Recall the Nth newest run of the history (1: the newest)"),
        QStringLiteral("N")};
    const QCommandLineOption zoom{QStringLiteral("zoom"),
                                  QStringLiteral("Zoom the compare view by FACTOR from fit, at its centre"),
                                  QStringLiteral("FACTOR")};
    const QCommandLineOption settingsShot{
        QStringLiteral("settings-screenshot"),
        QStringLiteral("Save a picture of the settings dialog to FILE, then quit"), QStringLiteral("FILE")};
    const QCommandLineOption grabAtStep{
        QStringLiteral("grab-at-step"),
        QStringLiteral("With --run and --screenshot: take the picture when the Nth step "
                       "of the job has finished (the run is then cancelled)"),
        QStringLiteral("N")};
    const QCommandLineOption settle{
        QStringLiteral("settle-ms"),
        QStringLiteral("Milliseconds to wait before the screenshot (default 1500)"), QStringLiteral("MS"),
        QStringLiteral("1500")};
};

// Names, version and desktop id of the application (before any window exists).
void describeApplication() {
    QApplication::setApplicationName(QStringLiteral("SwD Studio"));
    QApplication::setOrganizationName(QStringLiteral("swd-studio"));
    // --version names what the binary runs on (Qt at run time, libtorch as built).
    QApplication::setApplicationVersion(
        QStringLiteral("%1 (Qt %2, %3)")
            .arg(QStringLiteral(SWD_VERSION), QString::fromLatin1(qVersion()),
                 QString::fromStdString(swd::inferenceLibrariesDescription())));
    // On Wayland the app id ties the window to the desktop file and its icon.
    QGuiApplication::setDesktopFileName(QString::fromLatin1(kAppId));
}

void setUpParser(QCommandLineParser& parser, const StudioOptions& o) {
    parser.setApplicationDescription(
        QStringLiteral("SwD Studio: scale-wise distillation next to full-resolution sampling"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("image"),
                                 QStringLiteral("An image to open (its settings are restored)"));
    for (const auto& option :
         {o.screenshot, o.run, o.demo, o.prompt, o.seed, o.preset, o.output, o.mode, o.step, o.history,
          o.fullTab, o.recallOpt, o.zoom, o.grabAtStep, o.settingsShot, o.settle})
        parser.addOption(option);
}

// The options that set up the session before the window is shown: output folder, preset, model, prompt,
// seed, schedule tab.
void applySessionOptions(swd::ui::MainWindow& window, const QCommandLineParser& parser,
                         const StudioOptions& o) {
    if (parser.isSet(o.output)) {
        swd::ui::AppSettings s = window.settings();
        s.outputFolder = parser.value(o.output);
        window.applySettings(s);  // this session only: not saved
    }
    if (parser.isSet(o.preset)) window.scheduleEditor()->loadPreset(parser.value(o.preset));
    if (parser.isSet(o.demo)) {
        swd::ui::ModelChoice c = window.promptPanel()->modelChoice();
        c.kind = swd::ui::ModelChoice::Kind::Demo;
        window.promptPanel()->setModelChoice(c);
        // Discovery may answer after this; keep the demo model chosen then too.
        QObject::connect(window.controller(), &swd::ui::GenerationController::discovered, &window,
                         [&window, c] { window.promptPanel()->setModelChoice(c); });
    }
    if (parser.isSet(o.prompt)) window.promptPanel()->setPrompt(parser.value(o.prompt));
    if (parser.isSet(o.seed)) {
        window.promptPanel()->setSeed(parser.value(o.seed).toULongLong());
        window.promptPanel()->setSeedLocked(true);
    }
    if (parser.isSet(o.fullTab)) window.scheduleEditor()->setCurrentSlot(swd::ui::ScheduleEditor::Slot::Full);
}

// The options that act on the shown window: history tab, compare mode, images, recall, zoom.
void applyViewOptions(swd::ui::MainWindow& window, const QCommandLineParser& parser, const StudioOptions& o) {
    if (parser.isSet(o.history))
        if (auto* dock = window.findChild<QDockWidget*>(QStringLiteral("historyDock"))) dock->raise();
    if (parser.isSet(o.mode)) {
        const QStringList modes = {QStringLiteral("side"), QStringLiteral("wipe"),
                                   QStringLiteral("difference"), QStringLiteral("toggle")};
        const int m = int(modes.indexOf(parser.value(o.mode)));
        if (m >= 0) window.action(QStringLiteral("actionMode%1").arg(m))->trigger();
    }
    for (const QString& file : parser.positionalArguments()) window.openImage(file);
    if (parser.isSet(o.recallOpt)) {
        const int n = parser.value(o.recallOpt).toInt();
        const auto& entries = window.historyStore()->entries();
        if (n >= 1 && n <= entries.size()) {
            const swd::ui::HistoryEntry entry = entries.at(n - 1);
            window.recall(entry);
            if (parser.isSet(o.step))
                if (QListWidget* lane = window.stepStrip()->lane(entry.label)) {
                    const int k = parser.value(o.step).toInt();
                    if (k >= 1 && k <= lane->count()) {
                        lane->setCurrentRow(k - 1);
                        Q_EMIT lane->itemClicked(lane->item(k - 1));
                    }
                }
        }
    }
    if (parser.isSet(o.zoom)) {
        const double factor = parser.value(o.zoom).toDouble();
        QTimer::singleShot(200, &window, [&window, factor] {
            window.compareView()->fitToWindow();
            window.compareView()->zoomAt(window.compareView()->rect().center(), factor);
        });
    }
}

// --settings-screenshot: shows the settings dialog, saves a picture of it and quits.
int runSettingsScreenshot(swd::ui::MainWindow& window, const QCommandLineParser& parser,
                          const StudioOptions& o) {
    auto* dialog = new swd::ui::SettingsDialog(window.settings(), &window);
    dialog->show();
    const QString file = parser.value(o.settingsShot);
    QTimer::singleShot(parser.value(o.settle).toInt(), dialog, [dialog, file] {
        const bool ok = dialog->grab().save(file);
        std::printf("%s\n", qPrintable(file));
        QCoreApplication::exit(ok ? 0 : 1);
    });
    return QApplication::exec();
}

// --run: starts the generation, and with --screenshot takes the picture at step --grab-at-step (then
// cancels) or once the job has settled (showing step --show-step first).
void startRun(swd::ui::MainWindow& window, const QCommandLineParser& parser, const StudioOptions& o,
              const QString& shotFile, int settleMs) {
    const QString kind = parser.value(o.run);
    const auto runKind = kind == QLatin1String("full")      ? swd::ui::MainWindow::RunKind::Full
                         : kind == QLatin1String("compare") ? swd::ui::MainWindow::RunKind::Compare
                                                            : swd::ui::MainWindow::RunKind::Swd;
    QTimer::singleShot(300, &window, [&window, runKind] { window.generate(runKind); });
    if (!shotFile.isEmpty() && parser.isSet(o.grabAtStep)) {
        const int at = parser.value(o.grabAtStep).toInt();
        auto* count = new int(0);
        QObject::connect(window.controller(), &swd::ui::GenerationController::stepFinished, &window,
                         [&window, shotFile, at, count](const swd::ui::StepImage&) {
                             if (++*count != at) return;
                             QTimer::singleShot(400, &window, [&window, shotFile] {
                                 const QPixmap shot = window.grab();
                                 shot.save(shotFile);
                                 std::printf("%s\n", qPrintable(shotFile));
                                 std::fflush(stdout);
                                 window.cancel();
                                 QObject::connect(&window, &swd::ui::MainWindow::jobSettled, qApp,
                                                  &QCoreApplication::quit);
                             });
                         });
    } else if (!shotFile.isEmpty()) {
        const int showStep = parser.isSet(o.step) ? parser.value(o.step).toInt() : 0;
        QObject::connect(&window, &swd::ui::MainWindow::jobSettled, &window,
                         [&window, shotFile, settleMs, showStep] {
                             if (showStep > 0)
                                 if (QListWidget* lane = window.stepStrip()->lane(swd::ui::kSwdLabel))
                                     if (showStep <= lane->count()) {
                                         lane->setCurrentRow(showStep - 1);
                                         Q_EMIT lane->itemClicked(lane->item(showStep - 1));
                                     }
                             QTimer::singleShot(settleMs, &window,
                                                [&window, shotFile] { grabAndQuit(&window, shotFile); });
                         });
    }
}

}  // namespace

int main(int argc, char** argv) {
    QGuiApplication::setHighDpiScaleFactorRoundingPolicy(Qt::HighDpiScaleFactorRoundingPolicy::PassThrough);
    QApplication app(argc, argv);
    describeApplication();

    QCommandLineParser parser;
    const StudioOptions options;
    setUpParser(parser, options);
    parser.process(app);

    swd::ui::MainWindow window;
    applySessionOptions(window, parser, options);
    window.show();
    applyViewOptions(window, parser, options);

    if (parser.isSet(options.settingsShot)) return runSettingsScreenshot(window, parser, options);
    const QString shotFile = parser.value(options.screenshot);
    const int settleMs = parser.value(options.settle).toInt();
    if (parser.isSet(options.run)) {
        startRun(window, parser, options, shotFile, settleMs);
    } else if (!shotFile.isEmpty()) {
        QTimer::singleShot(settleMs, &window, [&window, shotFile] { grabAndQuit(&window, shotFile); });
    }
    return QApplication::exec();
}
