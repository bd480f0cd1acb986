// The desktop application, offscreen: the schedule table model and its chart, presets, history, settings,
// restoring a run from an image, the compare view, tooltips and shortcuts, the generation worker (with a
// scripted backend, for cancel and failures), and a full generation on the built-in demo model.
#include "compare_view.h"
#include "core/test_util.h"
#include "generation_controller.h"
#include "history_panel.h"
#include "history_store.h"
#include "image/image_io.h"
#include "image_conversion.h"
#include "main_window.h"
#include "pipeline/cost_model.h"
#include "pipeline/generation_request.h"
#include "preset_store.h"
#include "prompt_panel.h"
#include "run_record.h"
#include "schedule_chart.h"
#include "schedule_editor.h"
#include "schedule_table_model.h"
#include "seed_spin_box.h"
#include "settings.h"
#include "settings_dialog.h"
#include "step_strip.h"
#include "util/error.h"

#include <QAbstractButton>
#include <QAbstractItemView>
#include <QAbstractSlider>
#include <QAbstractSpinBox>
#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QListWidget>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProcess>
#include <QScrollBar>
#include <QSemaphore>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTabBar>
#include <QTableView>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <stdexcept>

using namespace swd;
using namespace swd::ui;

namespace {

Schedule builtinPreset(const char* id) {
    const PresetStore store(QDir::tempPath() + QStringLiteral("/swd-ui-no-user-presets"));
    const Schedule* s = store.find(QString::fromLatin1(id));
    if (!s) throw std::runtime_error(std::string("missing built-in preset ") + id);
    return *s;
}

QImage solidImage(int w, int h, QColor color) {
    QImage image(w, h, QImage::Format_RGB888);
    image.fill(color);
    return image;
}

// A backend whose runs are scripted: `steps` steps, each one waiting for `gate` (when set) so a test can
// prove the UI thread keeps running, checking cancel between steps, and failing on request.
class ScriptedBackend : public RunBackend {
public:
    struct Script {
        int steps = 8;
        QSemaphore* gate = nullptr;  // each step acquires one permit
        int stepSleepMs = 0;
        bool throwStd = false;
        bool throwOther = false;
        std::atomic<Qt::HANDLE>* runThread = nullptr;
    };
    explicit ScriptedBackend(Script script) : m_script(script) {}

    void configure(const BackendOptions&) override {}
    DiscoveryReport discover() override {
        DiscoveryReport r;
        r.devices << QStringLiteral("cpu");
        return r;
    }
    RunResult run(const RunRequest& request, Observer& observer) override {
        if (m_script.runThread) m_script.runThread->store(QThread::currentThreadId());
        if (m_script.throwStd)
            throw std::runtime_error("weights.safetensors: tensor 'x' has shape [3], expected [4]");
        if (m_script.throwOther) throw 42;
        observer.stage(QStringLiteral("Sampling"));
        RunResult result;
        result.request = request;
        for (int i = 0; i < m_script.steps; ++i) {
            if (m_cancel.load()) {
                result.cancelled = true;
                break;
            }
            if (m_script.gate) m_script.gate->acquire();
            if (m_script.stepSleepMs > 0) QThread::msleep(static_cast<unsigned long>(m_script.stepSleepMs));
            StepImage s;
            s.runLabel = request.label;
            s.index = i;
            s.stepCount = m_script.steps;
            s.scale = 32 + 2 * i;
            s.sigma = 1.0 - double(i) / m_script.steps;
            s.sigmaNext = 1.0 - double(i + 1) / m_script.steps;
            s.ms = s.modelMs = 5;
            s.etaMs = 5.0 * (m_script.steps - i - 1);
            s.image = solidImage(16, 16, QColor(i * 10 % 256, 0, 0));
            observer.step(s);
            result.steps << s;
            ++result.completedSteps;
        }
        if (!result.cancelled) result.images << solidImage(64, 64, Qt::green);
        result.recordJson = QStringLiteral("{}");
        return result;
    }
    void requestCancel() override { m_cancel.store(true); }
    void resetCancel() override { m_cancel.store(false); }
    CostInfo costInfo() const override { return {}; }

private:
    Script m_script;
    std::atomic<bool> m_cancel{false};
};

GenerationWorker::BackendFactory scripted(ScriptedBackend::Script script) {
    return [script] { return std::make_unique<ScriptedBackend>(script); };
}

MainWindow::Options scriptedWindow(ScriptedBackend::Script script = {}) {
    MainWindow::Options o;
    o.backend = scripted(script);
    o.discoverModels = false;
    return o;
}

}  // namespace

class TestUi : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("swd-studio-tests"));
        QCoreApplication::setApplicationName(QStringLiteral("SwD Studio tests"));
        // Test mode points AppData and QSettings at ~/.qttest: start from an empty one.
        QDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)).removeRecursively();
        QSettings().clear();
        QVERIFY(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)
                    .contains(QLatin1String(".qttest")));
    }

    // --- the schedule table model -------------------------------------------------------------------

    void tableModelShowsAndEditsASchedule() {
        ScheduleTableModel model;
        const Schedule preset = builtinPreset("swd-2b-6step");
        model.setSchedule(preset);
        QCOMPARE(model.rowCount(), 6);
        QCOMPARE(model.columnCount(), int(ScheduleTableModel::ColumnCount));
        QCOMPARE(model.data(model.index(2, ScheduleTableModel::ScaleColumn)).toInt(), 64);
        QCOMPARE(model.data(model.index(2, ScheduleTableModel::SigmaColumn), ScheduleTableModel::ValueRole)
                     .toDouble(),
                 0.8959);
        QCOMPARE(model.data(model.index(0, ScheduleTableModel::StepColumn)).toInt(), 1);
        // Tokens: (scale/2)² image tokens + 77 CLIP + 512 T5.
        QCOMPARE(model.tokens(2), 32 * 32 + 77 + 512);
        QCOMPARE(model.data(model.index(5, ScheduleTableModel::TokensColumn)).toInt(), 64 * 64 + 77 + 512);
        // The schedule comes back unchanged.
        const Schedule back = model.schedule();
        QCOMPARE(back.scales, preset.scales);
        QCOMPARE(back.sigmas, preset.sigmas);
        QCOMPARE(back.name, preset.name);
        QCOMPARE(back.adapter, preset.adapter);
        QVERIFY(model.valid());

        QSignalSpy changed(&model, &ScheduleTableModel::scheduleChanged);
        QVERIFY(model.setData(model.index(1, ScheduleTableModel::ScaleColumn), QStringLiteral("50")));
        QCOMPARE(model.scaleAt(1), std::optional<int>(50));
        QVERIFY(model.setData(model.index(1, ScheduleTableModel::SigmaColumn), QStringLiteral("0.95")));
        QCOMPARE(model.schedule().sigmas[1], 0.95);
        QVERIFY(!model.setData(model.index(1, ScheduleTableModel::ScaleColumn), QStringLiteral("fifty")));
        QVERIFY(!model.setData(model.index(1, ScheduleTableModel::TokensColumn), 7));
        QCOMPARE(changed.count(), 2);
        QVERIFY(!(model.flags(model.index(0, ScheduleTableModel::TokensColumn)) & Qt::ItemIsEditable));
        QVERIFY(model.flags(model.index(0, ScheduleTableModel::SigmaColumn)) & Qt::ItemIsEditable);

        // The T5 override of the settings changes the token count.
        model.setT5Override(128);
        QCOMPARE(model.tokens(0), 16 * 16 + 77 + 128);
    }

    void tableModelEstimatesStepTimeFromTheCostModel() {
        ScheduleTableModel model;
        model.setSchedule(builtinPreset("swd-2b-6step"));
        const TransformerShape shape = TransformerShape::sd35Medium();
        model.setCostModel(shape, 2.0e12, true);
        const auto ms = model.estimatedStepMs();
        QCOMPARE(int(ms.size()), 6);
        for (int i = 0; i < 6; ++i) {
            const double expected = transformerFlops(shape, *model.scaleAt(i), 77 + 512) / 2.0e12 * 1000.0;
            QVERIFY(std::abs(ms[static_cast<std::size_t>(i)] - expected) < 1e-6 * expected);
        }
        // Larger steps cost more; doubling the throughput halves the estimate.
        QVERIFY(ms[5] > ms[0]);
        const double total = model.estimatedTotalMs();
        model.setCostModel(shape, 4.0e12, true);
        QVERIFY(std::abs(model.estimatedTotalMs() - total / 2.0) < 1e-6 * total);
        QCOMPARE(model.data(model.index(5, ScheduleTableModel::MsColumn)).toString(),
                 QString::number(ms[5] / 2.0, 'f', 0));
    }

    void tableModelPastesLists() {
        ScheduleTableModel model;
        model.setSchedule(Schedule{});
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.pasteText(QStringLiteral("32,48,64"), 0, ScheduleTableModel::ScaleColumn), 3);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.schedule().scales, (std::vector<int>{32, 48, 64}));
        // σ still empty: flagged per cell, not runnable.
        QVERIFY(!model.valid());
        QVERIFY(model.cellIssue(0, ScheduleTableModel::SigmaColumn).contains(QLatin1String("empty")));
        QVERIFY(model.cellIssue(0, ScheduleTableModel::ScaleColumn).isEmpty());
        // A σ list with the final 0: fills the rows and the final σ.
        QCOMPARE(
            model.pasteText(QStringLiteral("1.0, 0.9454, 0.7904, 0"), 0, ScheduleTableModel::SigmaColumn), 4);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.schedule().sigmas, (std::vector<double>{1.0, 0.9454, 0.7904, 0.0}));
        QVERIFY2(model.valid(), qPrintable(model.problems().join(QLatin1Char('\n'))));
        // Brackets, semicolons, new lines; appended rows.
        QCOMPARE(model.pasteText(QStringLiteral("[96;\n128]"), 3, ScheduleTableModel::ScaleColumn), 2);
        QCOMPARE(model.rowCount(), 5);
        QCOMPARE(model.scaleAt(4), std::optional<int>(128));
        QVERIFY(!model.sigmaAt(4).has_value());
        // Two spreadsheet columns.
        QCOMPARE(model.pasteText(QStringLiteral("80\t0.6\n96\t0.5\n"), 3, ScheduleTableModel::ScaleColumn),
                 4);
        QCOMPARE(model.scaleAt(3), std::optional<int>(80));
        QCOMPARE(model.sigmaAt(4), std::optional<double>(0.5));
        QVERIFY2(model.valid(), qPrintable(model.problems().join(QLatin1Char('\n'))));
        // Not numbers: nothing changes, the reason is given.
        const Schedule before = model.schedule();
        QCOMPARE(model.pasteText(QStringLiteral("32, big, 64"), 0, ScheduleTableModel::ScaleColumn), 0);
        QVERIFY(model.lastPasteError().contains(QLatin1String("big")));
        QCOMPARE(model.schedule().scales, before.scales);
        QCOMPARE(model.pasteText(QStringLiteral("32.5"), 0, ScheduleTableModel::ScaleColumn), 0);
    }

    void tableModelInsertsRemovesAndDuplicatesRows() {
        ScheduleTableModel model;
        model.setSchedule(builtinPreset("swd-2b-4step-card"));
        const Schedule original = model.schedule();
        const int n = model.rowCount();
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QVERIFY(model.insertRows(1, 1));
        QCOMPARE(model.rowCount(), n + 1);
        QCOMPARE(inserted.count(), 1);
        // The new row continues the schedule: previous scale, σ halfway between its neighbours.
        QCOMPARE(*model.scaleAt(1), original.scales[0]);
        QCOMPARE(*model.sigmaAt(1), (original.sigmas[0] + original.sigmas[1]) / 2.0);
        QVERIFY2(model.valid(), qPrintable(model.problems().join(QLatin1Char('\n'))));
        QVERIFY(model.removeRows(1, 1));
        QCOMPARE(model.schedule().scales, original.scales);
        QCOMPARE(model.schedule().sigmas, original.sigmas);

        // A duplicate repeats σ, which must strictly decrease: the copy's σ cell says so.
        QVERIFY(model.duplicateRow(2));
        QCOMPARE(model.rowCount(), n + 1);
        QCOMPARE(model.scaleAt(3), model.scaleAt(2));
        QVERIFY(!model.valid());
        QVERIFY(
            model.cellIssue(3, ScheduleTableModel::SigmaColumn).contains(QLatin1String("strictly decrease")));
        QVERIFY(model.cellIssue(2, ScheduleTableModel::SigmaColumn).isEmpty());
        QVERIFY(!model.removeRows(0, 99));
        QVERIFY(!model.duplicateRow(-1));
    }

    void tableModelFlagsEachBadCell() {
        ScheduleTableModel model;
        model.setSchedule(builtinPreset("swd-2b-6step"));
        QSignalSpy validity(&model, &ScheduleTableModel::validityChanged);
        QVERIFY(model.setData(model.index(1, ScheduleTableModel::ScaleColumn), 33));
        QCOMPARE(validity.count(), 1);
        QCOMPARE(validity.last().at(0).toBool(), false);
        const QString odd =
            model.data(model.index(1, ScheduleTableModel::ScaleColumn), ScheduleTableModel::IssueRole)
                .toString();
        QVERIFY2(odd.contains(QLatin1String("multiple of 2")), qPrintable(odd));
        QCOMPARE(model.data(model.index(1, ScheduleTableModel::ScaleColumn), Qt::ToolTipRole).toString(),
                 odd);
        QVERIFY(model.data(model.index(1, ScheduleTableModel::ScaleColumn), Qt::BackgroundRole).isValid());
        QVERIFY(!model.data(model.index(0, ScheduleTableModel::ScaleColumn), Qt::BackgroundRole).isValid());
        QVERIFY(model.firstProblem().startsWith(QLatin1String("Step 2, scale")));

        QVERIFY(model.setData(model.index(1, ScheduleTableModel::ScaleColumn), 30));  // below step 1's 32
        QVERIFY(
            model.cellIssue(1, ScheduleTableModel::ScaleColumn).contains(QLatin1String("must not decrease")));
        QVERIFY(model.setData(model.index(1, ScheduleTableModel::ScaleColumn), 48));
        QVERIFY(model.valid());
        QCOMPARE(validity.last().at(0).toBool(), true);

        QVERIFY(model.setData(model.index(3, ScheduleTableModel::SigmaColumn), 1.5));
        QVERIFY(
            model.cellIssue(3, ScheduleTableModel::SigmaColumn).contains(QLatin1String("outside [0, 1]")));
        QVERIFY(model.setData(model.index(3, ScheduleTableModel::SigmaColumn), QString()));
        QVERIFY(model.cellIssue(3, ScheduleTableModel::SigmaColumn).contains(QLatin1String("empty")));
        QVERIFY(model.setData(model.index(3, ScheduleTableModel::SigmaColumn), 0.7904));
        QVERIFY(model.valid());

        model.setGuidance(-1);
        QVERIFY(model.fieldIssue(QStringLiteral("guidance")).contains(QLatin1String("from 0 to 100")));
        QVERIFY(!model.valid());
        model.setGuidance(1.0);
        // A model's positional table limits the scale.
        ScheduleLimits limits;
        limits.maxLatentSide = 96;
        model.setLimits(limits);
        QVERIFY(model.cellIssue(5, ScheduleTableModel::ScaleColumn).contains(QLatin1String("exceeds 96")));
        QVERIFY(model.cellIssue(4, ScheduleTableModel::ScaleColumn).isEmpty());
    }

    void chartFollowsTheModelAndEditsIt() {
        ScheduleTableModel model;
        model.setSchedule(builtinPreset("swd-2b-6step"));
        ScheduleChart chart;
        chart.resize(500, 300);
        chart.setModel(&model);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        auto seriesMatchesModel = [&] {
            if (chart.sigmaSeries()->count() != model.rowCount() ||
                chart.scaleSeries()->count() != model.rowCount())
                return false;
            for (int r = 0; r < model.rowCount(); ++r) {
                if (chart.sigmaSeries()->at(r) != QPointF(r + 1, *model.sigmaAt(r))) return false;
                if (chart.scaleSeries()->at(r) != QPointF(r + 1, *model.scaleAt(r))) return false;
            }
            return true;
        };
        QVERIFY(seriesMatchesModel());
        model.setData(model.index(2, ScheduleTableModel::SigmaColumn), 0.85);
        model.insertRows(6, 1);
        QVERIFY(seriesMatchesModel());
        model.removeRows(6, 1);
        QVERIFY(seriesMatchesModel());

        // Dragging sets the value: scales snap to even values, σ stays in [0, 1].
        chart.setPointValue(ScheduleChart::Series::Scale, 2, 71.2);
        QCOMPARE(model.scaleAt(2), std::optional<int>(72));
        chart.setPointValue(ScheduleChart::Series::Scale, 2, 0.4);
        QCOMPARE(model.scaleAt(2), std::optional<int>(2));
        chart.setPointValue(ScheduleChart::Series::Sigma, 1, 1.7);
        QCOMPARE(model.sigmaAt(1), std::optional<double>(1.0));
        QCOMPARE(ScheduleChart::snapScale(129.0, 128), 128);
        model.setData(model.index(2, ScheduleTableModel::ScaleColumn), 64);
        model.setData(model.index(1, ScheduleTableModel::SigmaColumn), 0.9454);

        // A real mouse drag of the σ point of step 4 upwards raises its σ; the table follows.
        const double before = *model.sigmaAt(3);
        const QPoint p = chart.pointPosition(ScheduleChart::Series::Sigma, 3);
        QVERIFY(chart.rect().contains(p));
        QTest::mousePress(chart.viewport(), Qt::LeftButton, {}, p);
        QMouseEvent move(QEvent::MouseMove, QPointF(p + QPoint(0, -25)),
                         chart.viewport()->mapToGlobal(QPointF(p + QPoint(0, -25))), Qt::NoButton,
                         Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(chart.viewport(), &move);
        QTest::mouseRelease(chart.viewport(), Qt::LeftButton, {}, p + QPoint(0, -25));
        QVERIFY2(*model.sigmaAt(3) > before, qPrintable(QString::number(*model.sigmaAt(3))));
        QVERIFY(seriesMatchesModel());
    }

    // --- presets, history, settings -----------------------------------------------------------------

    void userPresetSavesAndLoadsBack() {
        const QString folder = userPresetDir();
        QVERIFY(folder.startsWith(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)));
        ScheduleEditor editor;
        QVERIFY(editor.loadPreset(QStringLiteral("swd-2b-6step")));
        ScheduleTableModel* m = editor.model(ScheduleEditor::Slot::Swd);
        QCOMPARE(m->pasteText(QStringLiteral("32, 64, 96, 128"), 0, ScheduleTableModel::ScaleColumn), 4);
        m->removeRows(4, 2);
        QCOMPARE(m->pasteText(QStringLiteral("1, 0.9, 0.7, 0.5, 0"), 0, ScheduleTableModel::SigmaColumn), 5);
        m->setGuidance(2.5);
        m->setT5Length(300);
        QVERIFY(m->valid());
        const QString id = editor.saveCurrentAsPreset(QStringLiteral("My Test Schedule"), true);
        QCOMPARE(id, QStringLiteral("my-test-schedule"));
        QVERIFY(QFile::exists(folder + QStringLiteral("/my-test-schedule.json")));

        // A new library over the same folder (as at the next start) has it, exactly.
        const PresetStore store;
        QVERIFY(store.isUserPreset(id));
        const Schedule* loaded = store.find(id);
        QVERIFY(loaded);
        QCOMPARE(loaded->name, std::string("My Test Schedule"));
        QCOMPARE(loaded->scales, (std::vector<int>{32, 64, 96, 128}));
        QCOMPARE(loaded->sigmas, (std::vector<double>{1, 0.9, 0.7, 0.5, 0}));
        QCOMPARE(loaded->guidance, 2.5);
        QCOMPARE(loaded->t5Length, 300);
        QCOMPARE(loaded->adapter, std::string("yresearch/swd-medium-6-steps"));

        ScheduleEditor second;
        QVERIFY(second.presetCombo()->findData(id) >= 0);
        QVERIFY(second.loadPreset(id));
        QCOMPARE(second.schedule(ScheduleEditor::Slot::Swd).sigmas, loaded->sigmas);

        // A broken file is reported and does not hide the others.
        QFile broken(folder + QStringLiteral("/broken.json"));
        QVERIFY(broken.open(QIODevice::WriteOnly));
        broken.write("{\"name\": \"x\", \"scales\": \"not a list\"}");
        broken.close();
        const PresetStore withBroken;
        QVERIFY(withBroken.find(id));
        QCOMPARE(withBroken.loadErrors().size(), 1);
        QVERIFY(withBroken.loadErrors().front().contains(QLatin1String("broken.json")));
        QFile::remove(broken.fileName());
        QVERIFY(PresetStore().remove(id));
        QVERIFY(!PresetStore().find(id));
    }

    // --- SD1.5 / SDXL schedules (DDPM timesteps) ----------------------------------------------------------

    void sidPresetShowsItsGridAndTimesteps() {
        ScheduleEditor editor;
        QVERIFY(editor.loadPreset(QStringLiteral("sid-sdxl-4step")));
        QCOMPARE(editor.currentSlot(), ScheduleEditor::Slot::Swd);
        auto* tInit = editor.findChild<QSpinBox*>(QStringLiteral("sidTInit"));
        auto* grid = editor.findChild<QSpinBox*>(QStringLiteral("sidGridSteps"));
        auto* steps = editor.findChild<QSpinBox*>(QStringLiteral("ddpmSteps"));
        auto* noise = editor.findChild<QComboBox*>(QStringLiteral("sidNoise"));
        auto* earlyExit = editor.findChild<QLabel*>(QStringLiteral("sidEarlyExit"));
        QVERIFY(tInit && grid && steps && noise && earlyExit);
        QVERIFY(tInit->isVisibleTo(&editor) && noise->isVisibleTo(&editor));
        QCOMPARE(tInit->value(), 625);
        QCOMPARE(grid->value(), 4);
        QCOMPARE(steps->value(), 4);
        QCOMPARE(noise->currentText(), QStringLiteral("fresh"));
        QVERIFY(!earlyExit->isVisibleTo(&editor));
        ScheduleTableModel* m = editor.model(ScheduleEditor::Slot::Swd);
        auto timesteps = [m] {
            QList<int> out;
            for (int r = 0; r < m->rowCount(); ++r)
                out << m->data(m->index(r, ScheduleTableModel::TimestepColumn)).toInt();
            return out;
        };
        QCOMPARE(timesteps(), (QList<int>{625, 468, 312, 156}));
        // The noise level is the schedule's derived sigma, read-only; only the timestep is edited.
        const Schedule loaded = editor.schedule(ScheduleEditor::Slot::Swd);
        QCOMPARE(
            m->data(m->index(1, ScheduleTableModel::SigmaColumn), ScheduleTableModel::ValueRole).toDouble(),
            loaded.sigmas[1]);
        QVERIFY(!(m->flags(m->index(1, ScheduleTableModel::SigmaColumn)) & Qt::ItemIsEditable));
        QVERIFY(!(m->flags(m->index(1, ScheduleTableModel::ScaleColumn)) & Qt::ItemIsEditable));
        QVERIFY(m->flags(m->index(1, ScheduleTableModel::TimestepColumn)) & Qt::ItemIsEditable);
        QVERIFY(!m->setData(m->index(1, ScheduleTableModel::SigmaColumn), 0.5));
        QVERIFY(!m->insertRows(0, 1));
        // SD3-only fields are gone: no T5 length, no token column; SiD has no CFG.
        QVERIFY(!editor.tableView()->isColumnHidden(ScheduleTableModel::TimestepColumn));
        QVERIFY(editor.tableView()->isColumnHidden(ScheduleTableModel::TokensColumn));
        QCOMPARE(editor.tableView()->horizontalHeader()->visualIndex(ScheduleTableModel::TimestepColumn), 1);
        QVERIFY(!editor.findChild<QSpinBox*>(QStringLiteral("t5LengthSpin"))->isVisibleTo(&editor));
        auto* guidance = editor.findChild<QDoubleSpinBox*>(QStringLiteral("guidanceSpin"));
        QVERIFY(!guidance->isEnabled());
        QVERIFY2(guidance->text().contains(QLatin1String("distilled")), qPrintable(guidance->text()));
        QVERIFY(editor.chart()->sigmaSeries()->name().contains(QLatin1String("noise level")));
        QVERIFY(editor.chart()->scaleSeries()->name().contains(QLatin1String("timestep")));
        QCOMPARE(editor.chart()->scaleSeries()->at(1).y(), 468.0);
        auto* sampler = editor.findChild<QComboBox*>(QStringLiteral("samplerCombo"));
        QList<int> offered;
        for (int i = 0; i < sampler->count(); ++i) offered << sampler->itemData(i).toInt();
        QCOMPARE(offered, (QList<int>{int(SamplerKind::Sid), int(SamplerKind::EulerDiscrete)}));

        // Two run steps of the 4-step grid: an early exit that validates.
        steps->setValue(2);
        QCOMPARE(timesteps(), (QList<int>{625, 468}));
        QVERIFY(m->valid());
        QVERIFY(validateSchedule(editor.schedule(ScheduleEditor::Slot::Swd)).empty());
        QVERIFY(earlyExit->isVisibleTo(&editor));

        // A timestep above the previous one: the core's check, named like the SD3 ones.
        const double level468 = *m->sigmaAt(1);
        QVERIFY(m->setData(m->index(1, ScheduleTableModel::TimestepColumn), 700));
        QVERIFY(!m->valid());
        QVERIFY2(editor.problem(ScheduleEditor::Slot::Swd).contains(QLatin1String("timesteps[1]")),
                 qPrintable(editor.problem(ScheduleEditor::Slot::Swd)));
        QVERIFY(!m->data(m->index(1, ScheduleTableModel::TimestepColumn), ScheduleTableModel::IssueRole)
                     .toString()
                     .isEmpty());
        auto* status = editor.findChild<QLabel*>(QStringLiteral("scheduleStatus"));
        QVERIFY2(status->text().contains(QLatin1String("timesteps[1]")), qPrintable(status->text()));
        QVERIFY(m->setData(m->index(1, ScheduleTableModel::TimestepColumn), QStringLiteral("500")));
        QVERIFY(m->valid());
        QVERIFY(*m->sigmaAt(1) > level468);  // a higher timestep is noisier
        QVERIFY(m->timestepsCustom());
        QVERIFY(editor.findChild<QLabel*>(QStringLiteral("customTimesteps"))->isVisibleTo(&editor));
        // Changing t_init regenerates the grid (the edit is replaced).
        tInit->setValue(999);
        QCOMPARE(timesteps(), (QList<int>{999, 749}));
        QVERIFY(!m->timestepsCustom());

        // Back to an SD3 preset: the SwD view returns.
        QVERIFY(editor.loadPreset(QStringLiteral("swd-2b-6step")));
        const Schedule swd = editor.schedule(ScheduleEditor::Slot::Swd);
        QCOMPARE(swd.scales, builtinPreset("swd-2b-6step").scales);
        QCOMPARE(swd.scales.front(), 32);
        QCOMPARE(swd.scales.back(), 128);
        QVERIFY(editor.tableView()->isColumnHidden(ScheduleTableModel::TimestepColumn));
        QVERIFY(!editor.tableView()->isColumnHidden(ScheduleTableModel::TokensColumn));
        QVERIFY(editor.findChild<QSpinBox*>(QStringLiteral("t5LengthSpin"))->isVisibleTo(&editor));
        QVERIFY(!editor.findChild<QWidget*>(QStringLiteral("ddpmRow"))->isVisibleTo(&editor));
        QVERIFY(guidance->isEnabled());
        QVERIFY(editor.chart()->sigmaSeries()->name().startsWith(QStringLiteral("σ")));
        QVERIFY(sampler->findData(int(SamplerKind::ScaleWise)) >= 0);
        QVERIFY(sampler->findData(int(SamplerKind::Sid)) < 0);
        QVERIFY(m->flags(m->index(0, ScheduleTableModel::ScaleColumn)) & Qt::ItemIsEditable);
        QCOMPARE(editor.model(ScheduleEditor::Slot::Full)->family(), builtinPreset("swd-2b-6step").family);
    }

    void sdxlFullShowsEulerDiscreteWithGuidance() {
        MainWindow window(scriptedWindow());
        ScheduleEditor* editor = window.scheduleEditor();
        QVERIFY(editor->loadPreset(QStringLiteral("sdxl-full")));
        QCOMPARE(editor->currentSlot(), ScheduleEditor::Slot::Full);
        ScheduleTableModel* m = editor->model(ScheduleEditor::Slot::Full);
        QCOMPARE(m->rowCount(), 40);
        QVERIFY(m->valid());
        auto* guidance = editor->findChild<QDoubleSpinBox*>(QStringLiteral("guidanceSpin"));
        QVERIFY(guidance->isEnabled());
        QCOMPARE(guidance->value(), 5.0);
        guidance->setValue(6.5);
        QCOMPARE(m->guidance(), 6.5);
        // Euler discrete's timesteps follow its step count: shown, not edited.
        QVERIFY(!editor->tableView()->isColumnHidden(ScheduleTableModel::TimestepColumn));
        QVERIFY(!(m->flags(m->index(0, ScheduleTableModel::TimestepColumn)) & Qt::ItemIsEditable));
        QVERIFY(!editor->findChild<QSpinBox*>(QStringLiteral("sidTInit"))->isVisibleTo(editor));
        QVERIFY(!editor->findChild<QWidget*>(QStringLiteral("generatorSteps"))->isVisibleTo(editor));
        auto* steps = editor->findChild<QSpinBox*>(QStringLiteral("ddpmSteps"));
        QCOMPARE(steps->value(), 40);
        steps->setValue(20);
        QCOMPARE(m->rowCount(), 20);
        QCOMPARE(*m->timestepAt(0), 951);  // 'leading': 19·50 + 1
        QCOMPARE(*m->timestepAt(19), 1);
        // The few-step slot followed the family: its SiD partner, and the window says so.
        QCOMPARE(editor->model(ScheduleEditor::Slot::Swd)->family(), ModelFamily::SDXL);
        QCOMPARE(editor->model(ScheduleEditor::Slot::Swd)->sampler(), SamplerKind::Sid);
        QAction* swd = window.action(QStringLiteral("actionGenerateSwd"));
        QVERIFY2(swd->text().contains(QLatin1String("SiD")), qPrintable(swd->text()));
        QVERIFY(swd->isEnabled());
        QVERIFY(window.promptPanel()->negativeEnabled());  // the Euler run has CFG 6.5
        // Switching the sampler to SiD: regenerated, no CFG.
        auto* sampler = editor->findChild<QComboBox*>(QStringLiteral("samplerCombo"));
        sampler->setCurrentIndex(sampler->findData(int(SamplerKind::Sid)));
        QCOMPARE(m->sampler(), SamplerKind::Sid);
        QCOMPARE(m->guidance(), 1.0);
        QVERIFY(!guidance->isEnabled());
        QVERIFY2(m->valid(), qPrintable(m->firstProblem()));
        // And back to an SD3 preset: the SwD button returns.
        QVERIFY(editor->loadPreset(QStringLiteral("swd-2b-6step")));
        QVERIFY2(swd->text().contains(QLatin1String("SwD")), qPrintable(swd->text()));
    }

    void editedSidPresetSavesAndReloadsIdentically() {
        ScheduleEditor editor;
        QVERIFY(editor.loadPreset(QStringLiteral("sid-sd15-4step")));
        ScheduleTableModel* m = editor.model(ScheduleEditor::Slot::Swd);
        QVERIFY(m->setData(m->index(2, ScheduleTableModel::TimestepColumn), 300));
        auto* noise = editor.findChild<QComboBox*>(QStringLiteral("sidNoise"));
        noise->setCurrentIndex(noise->findData(int(SidNoise::Ddim)));
        QCOMPARE(m->sidNoise(), SidNoise::Ddim);
        QVERIFY(m->valid());
        const Schedule edited = editor.schedule(ScheduleEditor::Slot::Swd);
        QCOMPARE(edited.timesteps, (std::vector<int>{625, 468, 300, 156}));
        const QString id = editor.saveCurrentAsPreset(QStringLiteral("My SiD"), true);
        QCOMPARE(id, QStringLiteral("my-sid"));
        QFile file(userPresetDir() + QStringLiteral("/my-sid.json"));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const auto json = nlohmann::json::parse(file.readAll().toStdString());
        QCOMPARE(json.at("sampler").get<std::string>(), std::string("sid"));
        QCOMPARE(json.at("t_init").get<int>(), 625);
        QCOMPARE(json.at("grid_steps").get<int>(), 4);
        QCOMPARE(json.at("steps").get<int>(), 4);
        QCOMPARE(json.at("noise").get<std::string>(), std::string("ddim"));
        QCOMPARE(json.at("scale").get<int>(), 64);
        QCOMPARE(json.at("timesteps").get<std::vector<int>>(), edited.timesteps);

        const PresetStore store;
        const Schedule* loaded = store.find(id);
        QVERIFY(loaded);
        QCOMPARE(loaded->timesteps, edited.timesteps);
        QCOMPARE(loaded->sigmas, edited.sigmas);
        QCOMPARE(loaded->scales, edited.scales);
        QCOMPARE(loaded->sidNoise, SidNoise::Ddim);
        QCOMPARE(loaded->family, ModelFamily::SD15);
        ScheduleEditor second;
        QVERIFY(second.loadPreset(id));
        QCOMPARE(second.currentSlot(), ScheduleEditor::Slot::Swd);
        const Schedule again = second.schedule(ScheduleEditor::Slot::Swd);
        QCOMPARE(again.timesteps, edited.timesteps);
        QCOMPARE(again.sigmas, edited.sigmas);
        QCOMPARE(again.sidTInit, 625);
        QCOMPARE(again.sidGridSteps, 4);
        QCOMPARE(scheduleToJson(again).dump(), scheduleToJson(*loaded).dump());
        QVERIFY(second.findChild<QLabel*>(QStringLiteral("customTimesteps"))->isVisibleTo(&second));
        QVERIFY(PresetStore().remove(id));
    }

    void historySurvivesANewStore() {
        RunResult r;
        r.request.label = kSwdLabel;
        r.request.prompt = QStringLiteral("a lighthouse, «night»");
        r.request.seed = 18446744073709551615ull;
        r.request.schedule = builtinPreset("swd-2b-6step");
        r.images << solidImage(64, 48, QColor(10, 200, 30));
        for (int i = 0; i < 3; ++i) {
            StepImage s;
            s.runLabel = kSwdLabel;
            s.index = i;
            s.stepCount = 3;
            s.scale = 32 * (i + 1);
            s.sigma = 1.0 - i * 0.25;
            s.sigmaNext = 0.75 - i * 0.25;
            s.ms = 100 + i;
            s.image = solidImage(8 * (i + 1), 8 * (i + 1), QColor(i * 80, 0, 0));
            r.steps << s;
        }
        r.completedSteps = 3;
        r.timings.totalMs = 1234;
        r.recordJson = QStringLiteral("{\"format\":\"swd-studio/1\"}");
        r.parametersText = QStringLiteral("a lighthouse\nSteps: 3, Seed: 1");
        r.modelName = QStringLiteral("Demo model");
        QString id;
        {
            HistoryStore store;
            QVERIFY(
                store.dir().startsWith(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)));
            const int before = int(store.entries().size());
            QSignalSpy added(&store, &HistoryStore::entryAdded);
            const auto e = store.add(r);
            QVERIFY2(e.has_value(), qPrintable(store.lastError()));
            QCOMPARE(added.count(), 1);
            QCOMPARE(int(store.entries().size()), before + 1);
            id = e->id;
            QCOMPARE(store.jobOf(*e).size(), 1);  // alone in its job
            // Two runs of one job are found together, oldest first.
            RunResult full = r;
            full.request.label = kFullLabel;
            const auto a = store.add(r, QStringLiteral("job-1"));
            const auto b = store.add(full, QStringLiteral("job-1"));
            QVERIFY(a && b);
            const QList<HistoryEntry> job = store.jobOf(*b);
            QCOMPARE(job.size(), 2);
            QCOMPARE(job[0].id, a->id);
            QCOMPARE(job[1].label, kFullLabel);
            QVERIFY(store.remove(a->id) && store.remove(b->id));
            // A run without an image is not kept.
            RunResult none;
            QVERIFY(!store.add(none).has_value());
        }
        HistoryStore again;  // as after a restart
        const auto e = again.find(id);
        QVERIFY(e.has_value());
        QCOMPARE(again.entries().front().id, id);
        QCOMPARE(e->prompt, r.request.prompt);
        QCOMPARE(e->seed, r.request.seed);
        QCOMPARE(e->label, kSwdLabel);
        QCOMPARE(e->recordJson, r.recordJson);
        QCOMPARE(e->parametersText, r.parametersText);
        QCOMPARE(e->timings.totalMs, 1234.0);
        QCOMPARE(e->scheduleName, QStringLiteral("SwD 2B 6-step"));
        QCOMPARE(e->image().convertToFormat(QImage::Format_RGB888), r.images.front());
        QVERIFY(!e->thumbnail().isNull());
        const QList<StepImage> steps = e->loadSteps();
        QCOMPARE(steps.size(), 3);
        QCOMPARE(steps[2].scale, 96);
        QCOMPARE(steps[1].sigma, 0.75);
        QCOMPARE(steps[2].image.convertToFormat(QImage::Format_RGB888), r.steps[2].image);

        HistoryPanel panel(&again);
        QVERIFY(panel.list()->count() >= 1);
        QSignalSpy recall(&panel, &HistoryPanel::recallRequested);
        QTest::mouseClick(panel.list()->viewport(), Qt::LeftButton, {},
                          panel.list()->visualItemRect(panel.list()->item(0)).center());
        QCOMPARE(recall.count(), 1);
        QCOMPARE(recall.front().at(0).value<HistoryEntry>().id, id);

        QVERIFY(again.remove(id));
        QVERIFY(!HistoryStore().find(id).has_value());
    }

    // A user preset or history entry nested 200,000 deep (or a FIFO in their place) crashed or froze
    // swd-studio at every start (issue 18): they are now reported and skipped.
    void hostileUserFilesAreSkippedAtStart() {
        const QString presets = userPresetDir();
        QDir().mkpath(presets);
        swd::test::writeBytes((presets + QStringLiteral("/deep.json")).toStdString(),
                              R"({"name":"deep","scales":)" + swd::test::deepJson(200000) + "}");
        const auto fifo = (presets + QStringLiteral("/fifo.json")).toStdString();
        swd::test::makeFifo(fifo);
        QVERIFY(!swd::test::blockedOnFifo(fifo, 10, [&] {
            const PresetStore store;
            QCOMPARE(store.loadErrors().size(), 2);
            QVERIFY2(store.loadErrors().join('\n').contains(QLatin1String("nested deeper than 64")),
                     qPrintable(store.loadErrors().join('\n')));
            QVERIFY(store.find(QStringLiteral("swd-2b-6step")));  // the built-ins are all there
            ScheduleEditor editor;                                // what the window builds at start
            QVERIFY(editor.loadPreset(QStringLiteral("swd-2b-6step")));
        }));
        QFile::remove(presets + QStringLiteral("/deep.json"));
        QFile::remove(QString::fromStdString(fifo));

        // History: a record nested deep inside a valid entry, and an entry.json that is a FIFO.
        const QString history = HistoryStore().dir();
        const QString deepEntry = history + QStringLiteral("/hostile-deep");
        const QString fifoEntry = history + QStringLiteral("/hostile-fifo");
        QDir().mkpath(deepEntry);
        QDir().mkpath(fifoEntry);
        for (const QString& folder : {deepEntry, fifoEntry})
            QVERIFY(solidImage(8, 8, Qt::red).save(folder + QStringLiteral("/image.png")));
        const std::string record =
            R"({"format":"swd-studio/1","request":)" + swd::test::deepJson(200000) + "}";
        const nlohmann::json entry = {
            {"format", "swd-studio-history/1"}, {"id", "hostile-deep"}, {"record", record}};
        swd::test::writeBytes((deepEntry + QStringLiteral("/entry.json")).toStdString(), entry.dump());
        const auto fifoJson = (fifoEntry + QStringLiteral("/entry.json")).toStdString();
        swd::test::makeFifo(fifoJson);
        QVERIFY(!swd::test::blockedOnFifo(fifoJson, 10, [&] {
            HistoryStore store;
            const auto e = store.find(QStringLiteral("hostile-deep"));
            QVERIFY(e.has_value());
            QVERIFY(!store.find(QStringLiteral("hostile-fifo")).has_value());
            // Recalling it says what is wrong instead of overflowing the stack.
            try {
                restoreFromRecordJson(e->recordJson, QStringLiteral("history entry"));
                QFAIL("a record nested 200,000 deep was accepted");
            } catch (const Error& err) {
                QCOMPARE(err.kind(), ErrorKind::BadInput);
                QVERIFY2(QString::fromUtf8(err.what()).contains(QLatin1String("nested deeper than 64")),
                         err.what());
            }
        }));
        QDir(deepEntry).removeRecursively();
        QDir(fifoEntry).removeRecursively();
    }

    void settingsRoundTrip() {
        AppSettings s;
        s.modelFolders = {QStringLiteral("/models/sd35"), QStringLiteral("/mnt/ä models")};
        s.useHfCache = false;
        s.outputFolder = QStringLiteral("/tmp/out put");
        s.outputFormat = QStringLiteral("png16");
        s.previewMode = QStringLiteral("taesd");
        s.taesdPath = QStringLiteral("/models/taesd3/diffusion_pytorch_model.safetensors");
        s.t5Length = 128;
        s.threads = 3;
        s.device = QStringLiteral("cuda");
        s.precision = QStringLiteral("fp32");
        s.modelKey = QStringLiteral("path:/models/sd35");
        s.adapterKey = QStringLiteral("none");
        s.presetId = QStringLiteral("swd-2b-4step");
        s.save();
        QCOMPARE(AppSettings::load(), s);
        QTemporaryDir dir;
        QSettings file(dir.filePath(QStringLiteral("s.ini")), QSettings::IniFormat);
        s.save(file);
        QSettings reread(dir.filePath(QStringLiteral("s.ini")), QSettings::IniFormat);
        QCOMPARE(AppSettings::load(reread), s);
        // Nonsense values fall back to defaults.
        reread.setValue(QStringLiteral("generation/preview"), QStringLiteral("hologram"));
        reread.setValue(QStringLiteral("generation/t5Length"), 9999);
        const AppSettings fixed = AppSettings::load(reread);
        QCOMPARE(fixed.previewMode, QStringLiteral("projection"));
        QCOMPARE(fixed.t5Length, 512);
        QSettings().clear();
        QCOMPARE(AppSettings::load().outputFolder, outputDefault());
        const ModelChoice c = ModelChoice::fromKeys(s.modelKey, QStringLiteral("path:/a/lora"));
        QCOMPARE(c.kind, ModelChoice::Kind::Path);
        QCOMPARE(c.path, QStringLiteral("/models/sd35"));
        QCOMPARE(c.adapterPath, QStringLiteral("/a/lora"));
        QCOMPARE(ModelChoice::fromKeys(c.modelKey(), c.adapterKey()), c);
    }

    void settingsDialogEditsEverySetting() {
        AppSettings s;
        s.previewMode = QStringLiteral("taesd");
        s.taesdPath = QStringLiteral("/models/taesd3.safetensors");
        s.t5Length = 77;
        SettingsDialog dialog(s);
        auto* taesd = dialog.findChild<QLineEdit*>(QStringLiteral("taesdPathEdit"));
        QVERIFY(taesd);
        QCOMPARE(taesd->text(), s.taesdPath);
        QCOMPARE(dialog.settings(), s);  // opening and accepting changes nothing
        taesd->setText(QStringLiteral("  /elsewhere/taesd3  "));
        auto* preview = dialog.findChild<QComboBox*>(QStringLiteral("previewModeCombo"));
        preview->setCurrentIndex(preview->findData(QStringLiteral("vae")));
        const AppSettings edited = dialog.settings();
        QCOMPARE(edited.taesdPath, QStringLiteral("/elsewhere/taesd3"));
        QCOMPARE(edited.previewMode, QStringLiteral("vae"));
        QCOMPARE(edited.t5Length, 77);
    }

    void windowLayoutIsRestored() {
        QSettings().remove(QStringLiteral("window"));
        const MainWindow::Options o = scriptedWindow();
        QByteArray saved;
        {
            MainWindow w(o);
            w.resize(1100, 760);
            w.show();
            auto* history = w.findChild<QDockWidget*>(QStringLiteral("historyDock"));
            QVERIFY(history);
            history->setFloating(true);  // the user tears the history off
            w.close();
            saved = QSettings().value(QStringLiteral("window/state")).toByteArray();
        }
        QVERIFY(!saved.isEmpty());
        MainWindow again(o);
        QVERIFY(again.findChild<QDockWidget*>(QStringLiteral("historyDock"))->isFloating());
        QSettings().remove(QStringLiteral("window"));
    }

    // --- restoring a run from an image ----------------------------------------------------------------

    void openImageRestoresEverySetting() {
        QTemporaryDir dir;
        GenerationRequest g;
        g.prompt = "a red fox in fresh snow, «winter», 雪";
        g.negativePrompt = "blurry, low quality";
        g.seed = 9876543210123ull;
        g.schedule = builtinPreset("swd-2b-6step");
        g.schedule.scales = {32, 48, 64, 96};
        g.schedule.sigmas = {1.0, 0.9, 0.7, 0.4, 0.0};
        g.schedule.guidance = 2.0;
        g.schedule.t5Length = 200;
        g.schedule.name = "edited schedule";
        g.device = "cpu";
        g.precision = Precision::FP32;
        g.preview = PreviewMode::Off;
        g.useAdapter = false;
        g.label = "SwD";
        RunProvenance p;
        p.modelName = "Demo model (tiny, random weights)";
        p.imageSeed = g.seed;
        ImageMetadata meta;
        meta.parameters = a1111Parameters(g, p);
        meta.request = imageRecordJson(g, p);
        const std::string path = dir.filePath(QStringLiteral("run.png")).toStdString();
        RgbImage8 pixels;
        pixels.width = 24;
        pixels.height = 16;
        pixels.data.assign(24 * 16 * 3, 77);
        writeImage(path, toFloatImage(pixels), meta);

        MainWindow window(scriptedWindow());
        QVERIFY(window.openImage(QString::fromStdString(path)));
        PromptPanel* prompt = window.promptPanel();
        QCOMPARE(prompt->prompt(), QString::fromStdString(g.prompt));
        QCOMPARE(prompt->negativePrompt(), QString::fromStdString(g.negativePrompt));
        QCOMPARE(prompt->seed(), g.seed);
        QVERIFY(prompt->seedLocked());
        QCOMPARE(prompt->device(), QStringLiteral("cpu"));
        QCOMPARE(prompt->precision(), QStringLiteral("fp32"));
        QCOMPARE(prompt->modelChoice().kind, ModelChoice::Kind::Demo);
        QCOMPARE(prompt->modelChoice().adapterKind, ModelChoice::AdapterKind::None);
        QCOMPARE(window.settings().previewMode, QStringLiteral("off"));
        ScheduleEditor* editor = window.scheduleEditor();
        QCOMPARE(editor->currentSlot(), ScheduleEditor::Slot::Swd);
        const Schedule s = editor->schedule(ScheduleEditor::Slot::Swd);
        QCOMPARE(s.scales, g.schedule.scales);
        QCOMPARE(s.sigmas, g.schedule.sigmas);
        QCOMPARE(s.guidance, 2.0);
        QCOMPARE(s.t5Length, 200);
        QCOMPARE(s.name, std::string("edited schedule"));
        QCOMPARE(s.sampler, SamplerKind::ScaleWise);
        QVERIFY(prompt->negativeEnabled());  // guidance 2 uses it
        QCOMPARE(window.compareView()->imageA().size(), QSize(24, 16));
        // The next generation runs exactly this request.
        const RunRequest next = window.requestFor(MainWindow::RunKind::Swd, prompt->seed());
        QCOMPARE(next.seed, g.seed);
        QCOMPARE(next.schedule.sigmas, g.schedule.sigmas);
        QCOMPARE(next.useAdapter, false);
        QCOMPARE(next.preview, PreviewMode::Off);

        // Saving it again keeps the record: it restores the same way.
        const QString copy = dir.filePath(QStringLiteral("copy.png"));
        QVERIFY(window.saveImage(copy));
        const RestoredRun again = restoreFromImageFile(copy);
        QCOMPARE(again.request.prompt, QString::fromStdString(g.prompt));
        QCOMPARE(again.request.schedule.sigmas, g.schedule.sigmas);

        // A full-resolution record goes to the second slot.
        GenerationRequest full = g;
        full.schedule = builtinPreset("sd35-medium-full");
        full.schedule.guidance = 5.5;
        full.label = "Full resolution";
        full.useAdapter = false;
        meta.request = imageRecordJson(full, p);
        const std::string fullPath = dir.filePath(QStringLiteral("full.png")).toStdString();
        writeImage(fullPath, toFloatImage(pixels), meta);
        QVERIFY(window.openImage(QString::fromStdString(fullPath)));
        QCOMPARE(editor->currentSlot(), ScheduleEditor::Slot::Full);
        QCOMPARE(editor->schedule(ScheduleEditor::Slot::Full).stepCount(), 40);
        QCOMPARE(editor->schedule(ScheduleEditor::Slot::Full).guidance, 5.5);
        QCOMPARE(editor->schedule(ScheduleEditor::Slot::Swd).scales, g.schedule.scales);  // untouched
        QVERIFY(!window.compareView()->imageB().isNull());

        // An image with only A1111 parameters (another tool's): the fallback parser restores what it has.
        ImageMetadata a1111;
        a1111.parameters =
            "a castle\nNegative prompt: fog\nSteps: 20, Sampler: Euler, CFG scale: 6, Seed: 1234, "
            "Size: 512x512, Model: sd3.5_medium";
        const std::string otherPath = dir.filePath(QStringLiteral("other.png")).toStdString();
        writeImage(otherPath, toFloatImage(pixels), a1111);
        QVERIFY(window.openImage(QString::fromStdString(otherPath)));
        QCOMPARE(prompt->prompt(), QStringLiteral("a castle"));
        QCOMPARE(prompt->negativePrompt(), QStringLiteral("fog"));
        QCOMPARE(prompt->seed(), quint64(1234));
        const Schedule other = editor->schedule(ScheduleEditor::Slot::Full);
        QCOMPARE(other.stepCount(), 20);
        QCOMPARE(other.finalScale(), 64);
        QCOMPARE(other.guidance, 6.0);
        QVERIFY(other.sigmas.front() == 1.0 && other.sigmas.back() == 0.0);
        QVERIFY(window.messageText().contains(QLatin1String("A1111")));

        // An image without settings is shown, and the window says why nothing was restored.
        const QString plain = dir.filePath(QStringLiteral("plain.png"));
        QVERIFY(solidImage(10, 10, Qt::blue).save(plain));
        QVERIFY(window.openImage(plain));
        QVERIFY(window.messageText().contains(QLatin1String("no generation settings")));
        QVERIFY(!window.openImage(dir.filePath(QStringLiteral("missing.png"))));
        QVERIFY(window.messageText().contains(QLatin1String("missing.png")));
    }

    // --- the compare view -----------------------------------------------------------------------------

    void compareViewSyncsZoomAndPan() {
        CompareView view;
        view.resize(804, 400);
        view.setImageA(solidImage(200, 100, Qt::red), QStringLiteral("A"));
        view.setImageB(solidImage(200, 100, Qt::blue), QStringLiteral("B"));
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QCOMPARE(view.mode(), CompareView::Mode::SideBySide);
        QCOMPARE(view.paneCount(), 2);
        // Fit: 200x100 into a 400x400 pane → 2x.
        QVERIFY(view.fitting());
        QCOMPARE(view.zoom(), 2.0);
        const QPointF offset = view.paneRect(1).topLeft() - view.paneRect(0).topLeft();

        // The same screen offset in either pane shows the same image point, before and after zooming.
        auto synced = [&](const QPointF& inLeft) {
            const QPointF a = view.mapToImage(0, inLeft), b = view.mapToImage(1, inLeft + offset);
            return std::abs(a.x() - b.x()) < 1e-9 && std::abs(a.y() - b.y()) < 1e-9;
        };
        QVERIFY(synced(QPointF(120, 150)));
        // Wheel over the right pane zooms both around the cursor.
        const QPointF cursor = view.paneRect(1).topLeft() + QPointF(300, 250);
        const QPointF under = view.mapToImage(1, cursor);
        QWheelEvent wheel(cursor, view.mapToGlobal(cursor), QPoint(), QPoint(0, 120), Qt::NoButton,
                          Qt::NoModifier, Qt::NoScrollPhase, false);
        QApplication::sendEvent(&view, &wheel);
        QCOMPARE(view.zoom(), 2.5);
        QVERIFY(!view.fitting());
        const QPointF stays = view.mapToImage(1, cursor);
        QVERIFY(std::abs(stays.x() - under.x()) < 1e-9 && std::abs(stays.y() - under.y()) < 1e-9);
        QVERIFY(synced(QPointF(10, 390)));
        // Dragging in the left pane pans both.
        const QPointF centre = view.center();
        QTest::mousePress(&view, Qt::LeftButton, {}, QPoint(100, 100));
        QMouseEvent move(QEvent::MouseMove, QPointF(150, 80), view.mapToGlobal(QPointF(150, 80)),
                         Qt::NoButton, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&view, &move);
        QTest::mouseRelease(&view, Qt::LeftButton, {}, QPoint(150, 80));
        QCOMPARE(view.center(), centre - QPointF(50, -20) / 2.5);
        QVERIFY(synced(QPointF(200, 200)));
        // 1:1 is one image pixel per device pixel; fit returns to the whole image.
        view.actualSize();
        QCOMPARE(view.zoom(), 1.0 / view.devicePixelRatioF());
        view.fitToWindow();
        QCOMPARE(view.zoom(), 2.0);
        QCOMPARE(view.center(), QPointF(100, 50));
        // Side by side shows A left and B right.
        const QImage shot = view.grab().toImage();
        QCOMPARE(QColor(shot.pixel(int(view.paneRect(0).center().x()), 200)), QColor(Qt::red));
        QCOMPARE(QColor(shot.pixel(int(view.paneRect(1).center().x()), 200)), QColor(Qt::blue));
    }

    void compareViewWipesDiffsAndToggles() {
        CompareView view;
        view.resize(400, 200);
        view.setImageA(solidImage(200, 100, QColor(200, 40, 40)), QStringLiteral("A"));
        view.setImageB(solidImage(100, 50, QColor(40, 40, 200)),
                       QStringLiteral("B"));  // another size: same area
        view.setMode(CompareView::Mode::Wipe);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QCOMPARE(view.paneCount(), 1);
        QCOMPARE(view.zoom(), 2.0);
        QCOMPARE(view.wipePosition(), 0.5);
        auto colourAt = [&](int x) { return QColor(view.grab().toImage().pixel(x, 150)); };
        QCOMPARE(colourAt(100), QColor(200, 40, 40));
        QCOMPARE(colourAt(300), QColor(40, 40, 200));
        // Drag the divider from the middle to a quarter.
        QTest::mousePress(&view, Qt::LeftButton, {}, QPoint(200, 100));
        QMouseEvent move(QEvent::MouseMove, QPointF(100, 100), view.mapToGlobal(QPointF(100, 100)),
                         Qt::NoButton, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&view, &move);
        QTest::mouseRelease(&view, Qt::LeftButton, {}, QPoint(100, 100));
        QCOMPARE(view.wipePosition(), 0.25);
        QCOMPARE(colourAt(150), QColor(40, 40, 200));
        QCOMPARE(colourAt(50), QColor(200, 40, 40));

        // Difference: |A − B| × 4, clamped.
        view.setMode(CompareView::Mode::Difference);
        const QImage diff = view.differenceMap();
        QCOMPARE(diff.size(), QSize(200, 100));
        QCOMPARE(QColor(diff.pixel(10, 10)), QColor(255, 0, 255));
        QCOMPARE(QColor(differenceImage(solidImage(4, 4, QColor(100, 100, 100)),
                                        solidImage(4, 4, QColor(90, 100, 130)))
                            .pixel(1, 1)),
                 QColor(40, 0, 120));

        // A/B toggle: Space switches.
        view.setMode(CompareView::Mode::Toggle);
        QCOMPARE(colourAt(200), QColor(200, 40, 40));
        QTest::keyClick(&view, Qt::Key_Space);
        QVERIFY(view.showingB());
        QCOMPARE(colourAt(200), QColor(40, 40, 200));
        view.swap();
        QCOMPARE(view.labelA(), QStringLiteral("B"));
    }

    // --- the window: tooltips, shortcuts, negative prompt, disabled Generate --------------------------

    void everyControlHasATooltip() {
        MainWindow window(scriptedWindow());
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        // Fill the strip and history so their widgets exist too.
        window.stepStrip()->beginRun(kSwdLabel, 3);
        window.stepStrip()->beginRun(kFullLabel, 3);
        QStringList missing;
        const auto widgets = window.findChildren<QWidget*>();
        for (QWidget* w : widgets) {
            if (!w->isVisibleTo(&window) || w->window() != &window) continue;
            const bool interactive = qobject_cast<QAbstractButton*>(w) || qobject_cast<QComboBox*>(w) ||
                                     qobject_cast<QAbstractSpinBox*>(w) || qobject_cast<QLineEdit*>(w) ||
                                     qobject_cast<QPlainTextEdit*>(w) ||
                                     qobject_cast<QAbstractItemView*>(w) ||
                                     qobject_cast<QAbstractSlider*>(w) || qobject_cast<QTabBar*>(w) ||
                                     qobject_cast<CompareView*>(w) || qobject_cast<ScheduleChart*>(w);
            if (!interactive) continue;
            // Parts of a composite control (a spin box's line edit, a view's header or scroll bars) share
            // the composite's tooltip.
            bool part = false;
            for (QWidget* p = w->parentWidget(); p && p != &window; p = p->parentWidget())
                if (qobject_cast<QAbstractSpinBox*>(p) || qobject_cast<QComboBox*>(p) ||
                    qobject_cast<QAbstractItemView*>(p) ||
                    qobject_cast<QAbstractScrollArea*>(p->parentWidget()))
                    part = true;
            if (qobject_cast<QScrollBar*>(w) || w->objectName().startsWith(QLatin1String("qt_"))) part = true;
            if (part) continue;
            if (w->toolTip().isEmpty())
                missing << QStringLiteral("%1 (%2)").arg(QString::fromLatin1(w->metaObject()->className()),
                                                         w->objectName());
        }
        QVERIFY2(missing.isEmpty(),
                 qPrintable(QStringLiteral("no tooltip: ") + missing.join(QStringLiteral(", "))));
        QVERIFY(widgets.size() > 60);
    }

    void windowFitsIn1280x800AndIsKeyboardNavigable() {
        MainWindow window(scriptedWindow());
        window.stepStrip()->beginRun(kSwdLabel, 6);
        window.stepStrip()->beginRun(kFullLabel, 40);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        const QSize minimum = window.minimumSizeHint().expandedTo(window.minimumSize());
        QVERIFY2(minimum.width() <= 1280 && minimum.height() <= 800,
                 qPrintable(QStringLiteral("%1x%2").arg(minimum.width()).arg(minimum.height())));
        QCOMPARE(window.size(), QSize(1280, 800));
        // Tab walks from the prompt through the pickers to the run buttons without getting stuck in a text
        // box.
        QVERIFY(QTest::qWaitForWindowActive(&window));
        window.promptPanel()->promptEdit()->setFocus();
        QSet<QWidget*> visited;
        for (int i = 0; i < 40; ++i) {
            visited.insert(QApplication::focusWidget());
            QTest::keyClick(QApplication::focusWidget(), Qt::Key_Tab);
        }
        QVERIFY(visited.contains(window.promptPanel()->seedBox()));
        QVERIFY(visited.contains(window.promptPanel()->modelCombo()));
        QVERIFY(visited.contains(window.findChild<QWidget*>(QStringLiteral("generateSwdButton"))));
        QVERIFY(visited.contains(window.compareView()));
        QVERIFY(visited.contains(window.scheduleEditor()->tableView()));
        QVERIFY(window.promptPanel()->prompt().isEmpty());  // Tab moved the focus, it typed nothing
    }

    void droppingAnImageOpensIt() {
        QTemporaryDir dir;
        GenerationRequest g;
        g.prompt = "dropped";
        g.seed = 5;
        g.schedule = builtinPreset("swd-2b-4step");
        ImageMetadata meta;
        meta.request = imageRecordJson(g, RunProvenance{});
        const QString path = dir.filePath(QStringLiteral("dropped.png"));
        RgbImage8 pixels;
        pixels.width = pixels.height = 8;
        pixels.data.assign(8 * 8 * 3, 200);
        writeImage(path.toStdString(), toFloatImage(pixels), meta);
        MainWindow window(scriptedWindow());
        QMimeData data;
        data.setUrls({QUrl::fromLocalFile(path)});
        QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
        enter.setAccepted(false);
        QApplication::sendEvent(&window, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&window, &drop);
        QCOMPARE(window.promptPanel()->prompt(), QStringLiteral("dropped"));
        QCOMPARE(window.promptPanel()->seed(), quint64(5));
        QMimeData text;
        text.setText(QStringLiteral("not a file"));
        QDragEnterEvent refused(QPoint(10, 10), Qt::CopyAction, &text, Qt::LeftButton, Qt::NoModifier);
        refused.setAccepted(false);
        QApplication::sendEvent(&window, &refused);
        QVERIFY(!refused.isAccepted());
    }

    void shortcutsAreRegistered() {
        MainWindow window(scriptedWindow());
        const QList<QPair<QString, QKeySequence>> expected = {
            {QStringLiteral("actionGenerateSwd"), QKeySequence(Qt::CTRL | Qt::Key_Return)},
            {QStringLiteral("actionGenerateFull"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Return)},
            {QStringLiteral("actionCompare"), QKeySequence(Qt::CTRL | Qt::ALT | Qt::Key_Return)},
            {QStringLiteral("actionCancel"), QKeySequence(Qt::Key_Escape)},
            {QStringLiteral("actionSave"), QKeySequence(QKeySequence::Save)},
            {QStringLiteral("actionOpen"), QKeySequence(QKeySequence::Open)},
            {QStringLiteral("actionFit"), QKeySequence(Qt::CTRL | Qt::Key_0)},
            {QStringLiteral("actionActualSize"), QKeySequence(Qt::CTRL | Qt::Key_1)},
        };
        for (const auto& [name, key] : expected) {
            QAction* a = window.action(name);
            QVERIFY2(a, qPrintable(name));
            QVERIFY2(a->shortcuts().contains(key),
                     qPrintable(name + QStringLiteral(": ") + a->shortcut().toString()));
            QVERIFY(window.actions().contains(a));  // active wherever the focus is in the window
        }
        QVERIFY(window.action(QStringLiteral("actionGenerateSwd"))
                    ->shortcuts()
                    .contains(QKeySequence(Qt::CTRL | Qt::Key_Enter)));

        // Ctrl+Enter typed in the prompt starts a run; Esc cancels it.
        QSemaphore gate;
        MainWindow running(scriptedWindow({1000, &gate, 0, false, false, nullptr}));
        running.show();
        QVERIFY(QTest::qWaitForWindowActive(&running));
        running.promptPanel()->promptEdit()->setFocus();
        QSignalSpy started(running.controller(), &GenerationController::jobStarted);
        QSignalSpy finished(running.controller(), &GenerationController::jobFinished);
        QTest::keyClick(running.promptPanel()->promptEdit(), Qt::Key_Return, Qt::ControlModifier);
        QCOMPARE(started.count(), 1);
        QVERIFY(running.promptPanel()->prompt().isEmpty());  // the key did not reach the text
        QVERIFY(!running.action(QStringLiteral("actionGenerateSwd"))->isEnabled());
        gate.release(2);
        QTest::keyClick(running.promptPanel()->promptEdit(), Qt::Key_Escape);
        gate.release(1000);
        QVERIFY(finished.wait(10000));
        QCOMPARE(finished.front().at(1).toBool(), true);  // cancelled
    }

    void negativePromptFollowsGuidance() {
        MainWindow window(scriptedWindow());
        ScheduleEditor* editor = window.scheduleEditor();
        QVERIFY(editor->loadPreset(QStringLiteral("swd-2b-6step")));
        editor->model(ScheduleEditor::Slot::Full)->setGuidance(1.0);
        PromptPanel* prompt = window.promptPanel();
        QVERIFY(!prompt->negativeEnabled());
        QVERIFY(prompt->negativeEdit()->toolTip().contains(QLatin1String("guidance")));
        editor->model(ScheduleEditor::Slot::Full)->setGuidance(4.5);
        QVERIFY(prompt->negativeEnabled());
        QVERIFY(prompt->negativeEdit()->toolTip().contains(QLatin1String("full-resolution")));
    }

    void invalidScheduleDisablesGenerateWithTheReason() {
        MainWindow window(scriptedWindow());
        ScheduleEditor* editor = window.scheduleEditor();
        QVERIFY(editor->loadPreset(QStringLiteral("swd-2b-6step")));
        QAction* swd = window.action(QStringLiteral("actionGenerateSwd"));
        QAction* full = window.action(QStringLiteral("actionGenerateFull"));
        QAction* compare = window.action(QStringLiteral("actionCompare"));
        QVERIFY(swd->isEnabled());
        ScheduleTableModel* m = editor->model(ScheduleEditor::Slot::Swd);
        m->setData(m->index(2, ScheduleTableModel::ScaleColumn), 65);
        QVERIFY(!swd->isEnabled());
        QVERIFY(!compare->isEnabled());
        QVERIFY(full->isEnabled());
        QVERIFY2(swd->toolTip().contains(QLatin1String("multiple of 2")), qPrintable(swd->toolTip()));
        auto* status = editor->findChild<QLabel*>(QStringLiteral("scheduleStatus"));
        QVERIFY(status->text().contains(QLatin1String("Step 3")));
        QVERIFY(!window.generate(MainWindow::RunKind::Swd));
        QVERIFY(window.messageText().contains(QLatin1String("multiple of 2")));
        m->setData(m->index(2, ScheduleTableModel::ScaleColumn), 64);
        QVERIFY(swd->isEnabled());
    }

    // --- the worker -------------------------------------------------------------------------------------

    void workerRunsOffTheUiThreadWhileTheEventLoopRuns() {
        // Each step of the scripted run waits for a permit that only a UI-thread timer releases: the run can
        // only finish if the event loop keeps running while it generates.
        QSemaphore gate;
        std::atomic<Qt::HANDLE> runThread{nullptr};
        GenerationController controller(scripted({12, &gate, 0, false, false, &runThread}));
        int ticks = 0;
        QTimer timer;
        timer.setInterval(1);
        connect(&timer, &QTimer::timeout, this, [&] {
            ++ticks;
            gate.release();
        });
        QSignalSpy steps(&controller, &GenerationController::stepFinished);
        QSignalSpy previews(&controller, &GenerationController::previewChanged);
        QSignalSpy results(&controller, &GenerationController::runFinished);
        QSignalSpy finished(&controller, &GenerationController::jobFinished);
        QList<double> progress;
        connect(&controller, &GenerationController::progressChanged, this,
                [&](double f, double, const QString&) { progress << f; });
        RunRequest a, b;
        a.label = kSwdLabel;
        a.schedule = builtinPreset("swd-2b-6step");
        b.label = kFullLabel;
        b.schedule = builtinPreset("sd35-medium-full");
        QVERIFY(controller.start({a, b}) > 0);
        QVERIFY(controller.busy());
        QCOMPARE(controller.start({a}), 0);  // one job at a time
        timer.start();
        QVERIFY(finished.wait(20000));
        QVERIFY(ticks >= 24);  // one permit per step of both runs
        QVERIFY(runThread.load() != nullptr);
        QVERIFY(runThread.load() != QThread::currentThreadId());
        QCOMPARE(steps.count(), 24);
        for (int i = 0; i < 24; ++i) {
            const StepImage s = steps.at(i).at(0).value<StepImage>();
            QCOMPARE(s.index, i % 12);
            QCOMPARE(s.runLabel, i < 12 ? kSwdLabel : kFullLabel);
        }
        // Previews are throttled (never more than the steps) and the newest one is shown last.
        QVERIFY(previews.count() >= 1 && previews.count() <= 24);
        QCOMPARE(previews.last().at(0).value<StepImage>().index, 11);
        QCOMPARE(results.count(), 2);
        QCOMPARE(finished.front().at(1).toBool(), false);
        for (int i = 1; i < progress.size(); ++i) QVERIFY(progress[i] >= progress[i - 1]);
        QCOMPARE(progress.last(), 1.0);
        QVERIFY(!controller.busy());
    }

    void workerHonoursCancelBetweenSteps() {
        QSemaphore gate;
        GenerationController controller(scripted({200, &gate, 0, false, false, nullptr}));
        QSignalSpy steps(&controller, &GenerationController::stepFinished);
        QSignalSpy results(&controller, &GenerationController::runFinished);
        QSignalSpy finished(&controller, &GenerationController::jobFinished);
        RunRequest a, b;
        a.label = kSwdLabel;
        b.label = kFullLabel;
        controller.start({a, b});
        gate.release(5);
        QTRY_COMPARE_WITH_TIMEOUT(steps.count(), 5, 10000);
        controller.cancel();
        gate.release(1000);
        QVERIFY(finished.wait(10000));
        QCOMPARE(finished.front().at(1).toBool(), true);
        QCOMPARE(results.count(), 1);  // the full-resolution run never started
        const RunResult r = results.front().at(0).value<RunResult>();
        QVERIFY(r.cancelled);
        QVERIFY(r.completedSteps >= 5 && r.completedSteps < 200);
        QCOMPARE(steps.count(), r.completedSteps);
    }

    void workerTurnsExceptionsIntoMessages() {
        for (const bool stdException : {true, false}) {
            GenerationController controller(scripted({4, nullptr, 0, stdException, !stdException, nullptr}));
            QSignalSpy failed(&controller, &GenerationController::failed);
            QSignalSpy finished(&controller, &GenerationController::jobFinished);
            RunRequest a;
            a.label = kSwdLabel;
            controller.start({a});
            QVERIFY(finished.wait(10000));
            QCOMPARE(failed.count(), 1);
            const QString message = failed.front().at(0).toString();
            QVERIFY2(message.startsWith(QLatin1String("SwD run failed: ")), qPrintable(message));
            QVERIFY(message.contains(stdException ? QLatin1String("expected [4]")
                                                  : QLatin1String("unknown error")));
            QCOMPARE(finished.front().at(2).toBool(), true);
            // The worker survives: the next job runs.
            QVERIFY(controller.start({a}) > 0);
            QVERIFY(finished.wait(10000));
        }
        // In the window the message is shown, not thrown.
        MainWindow window(scriptedWindow({4, nullptr, 0, true, false, nullptr}));
        QSignalSpy settled(&window, &MainWindow::jobSettled);
        QVERIFY(window.generate(MainWindow::RunKind::Swd));
        QVERIFY(settled.wait(10000));
        QVERIFY(window.messageText().contains(QLatin1String("weights.safetensors")));
        QVERIFY(window.action(QStringLiteral("actionGenerateSwd"))->isEnabled());
    }

    // --- the real engine on the demo model --------------------------------------------------------------

    void demoModelGeneratesThroughTheWorker() {
        QTemporaryDir out;
        GenerationController controller;  // the engine backend
        BackendOptions options;
        options.demoDir = demoModelDir();
        options.useHfCache = false;
        controller.configure(options);
        RunRequest r;
        r.prompt = QStringLiteral("a lighthouse at dusk");
        r.seed = 42;
        r.schedule = builtinPreset("swd-2b-6step");
        r.schedule.scales = {16, 24, 32};
        r.schedule.sigmas = {1.0, 0.9, 0.6, 0.0};
        r.label = kSwdLabel;
        r.model.kind = ModelChoice::Kind::Demo;
        r.outputFolder = out.path();
        r.preview = PreviewMode::FullVae;

        int ticksWhileBusy = 0;
        QTimer timer;
        timer.setInterval(5);
        connect(&timer, &QTimer::timeout, this, [&] { ticksWhileBusy += controller.busy() ? 1 : 0; });
        QSignalSpy steps(&controller, &GenerationController::stepFinished);
        QSignalSpy results(&controller, &GenerationController::runFinished);
        QSignalSpy failed(&controller, &GenerationController::failed);
        QSignalSpy finished(&controller, &GenerationController::jobFinished);
        QSignalSpy cost(&controller, &GenerationController::costInfoChanged);
        QSignalSpy stages(&controller, &GenerationController::stageChanged);
        timer.start();
        QVERIFY(controller.start({r}) > 0);
        QVERIFY(finished.wait(300000));
        timer.stop();
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.front().at(0).toString()));
        // The UI thread's event loop ran during the generation (timer ticks and step signals arrived).
        QVERIFY(ticksWhileBusy > 0);
        QCOMPARE(steps.count(), 3);
        for (int i = 0; i < 3; ++i) {
            const StepImage s = steps.at(i).at(0).value<StepImage>();
            QCOMPARE(s.index, i);
            QCOMPARE(s.scale, r.schedule.scales[static_cast<std::size_t>(i)]);
            QCOMPARE(s.image.size(), QSize(8 * s.scale, 8 * s.scale));  // full-VAE previews
            QVERIFY(s.ms > 0);
        }
        QCOMPARE(results.count(), 1);
        const RunResult result = results.front().at(0).value<RunResult>();
        QVERIFY(!result.cancelled);
        QCOMPARE(result.image().size(), QSize(256, 256));
        QCOMPARE(result.steps.size(), 3);
        QCOMPARE(result.modelName, QStringLiteral("Demo model (tiny, random weights)"));
        // Saved as it finished, with the record that restores it.
        QCOMPARE(result.savedPaths.size(), 1);
        QVERIFY(result.savedPaths.front().startsWith(out.path()));
        const RestoredRun back = restoreFromImageFile(result.savedPaths.front());
        QCOMPARE(back.request.prompt, r.prompt);
        QCOMPARE(back.request.seed, quint64(42));
        QCOMPARE(back.request.schedule.scales, r.schedule.scales);
        QCOMPARE(back.modelName, QStringLiteral("Demo model (tiny, random weights)"));
        QVERIFY(!cost.isEmpty());
        const CostInfo info = cost.last().at(0).value<CostInfo>();
        QVERIFY(info.calibrated);
        QCOMPARE(info.maxLatentSide, 128);

        // The same seed again gives the same image, and the engine stayed loaded (no loading stage).
        results.clear();
        finished.clear();
        r.outputFolder.clear();
        auto loaded = [&] {
            for (const auto& s : stages)
                if (s.at(0).toString().contains(QLatin1String("Loading models"))) return true;
            return false;
        };
        QVERIFY(loaded());  // the first run loaded the models
        stages.clear();
        QVERIFY(controller.start({r}) > 0);
        QVERIFY(finished.wait(300000));
        const RunResult again = results.front().at(0).value<RunResult>();
        QCOMPARE(again.image(), result.image());
        QVERIFY(again.savedPaths.isEmpty());
        QVERIFY(!stages.isEmpty());
        QVERIFY(!loaded());

        // Cancel is honoured between steps: a 40-step full-resolution run stops early.
        RunRequest full = r;
        full.label = kFullLabel;
        full.useAdapter = false;
        full.schedule = builtinPreset("sd35-medium-full");
        full.schedule.scales.assign(full.schedule.scales.size(), 16);
        full.preview = PreviewMode::Projection;
        results.clear();
        finished.clear();
        steps.clear();
        QVERIFY(controller.start({full}) > 0);
        QTRY_VERIFY_WITH_TIMEOUT(steps.count() >= 2, 300000);
        controller.cancel();
        QVERIFY(finished.wait(300000));
        QCOMPARE(finished.front().at(1).toBool(), true);
        const RunResult cancelled = results.front().at(0).value<RunResult>();
        QVERIFY(cancelled.cancelled);
        QVERIFY(cancelled.completedSteps >= 2 && cancelled.completedSteps < 40);
        QVERIFY(cancelled.image().isNull());

        // No model installed and none picked: the message says what is missing and what to do.
        RunRequest automatic = r;
        automatic.model.kind = ModelChoice::Kind::Automatic;
        failed.clear();
        finished.clear();
        QVERIFY(controller.start({automatic}) > 0);
        QVERIFY(finished.wait(300000));
        QCOMPARE(failed.count(), 1);
        const QString missing = failed.front().at(0).toString();
        QVERIFY2(
            missing.contains(QLatin1String("SD3.5 Medium")) && missing.contains(QLatin1String("demo model")),
            qPrintable(missing));

        // A request the engine refuses becomes a message.
        RunRequest bad = r;
        bad.device = QStringLiteral("cuda:7");
        failed.clear();
        finished.clear();
        QVERIFY(controller.start({bad}) > 0);
        QVERIFY(finished.wait(300000));
        QCOMPARE(failed.count(), 1);
        QVERIFY(!failed.front().at(0).toString().isEmpty());
    }

    // One request written by the app's backend and by `swd generate` carries the same metadata: the A1111
    // text, the software and the JSON record (apart from the run's time), since both go through the session.
    void appAndCliWriteTheSameMetadata() {
        QTemporaryDir cache, uiOut, cliOut;
        Schedule schedule = builtinPreset("swd-2b-6step");
        schedule.scales = {16, 24, 32};
        schedule.sigmas = {1.0, 0.9, 0.6, 0.0};
        const QString scheduleFile = cache.filePath(QStringLiteral("schedule.json"));
        saveScheduleFile(schedule, scheduleFile.toStdString());
        const QString prompt = QStringLiteral("a red fox in fresh snow, \"35mm\", f/2");

        GenerationController controller;
        BackendOptions options;
        options.demoDir = cache.filePath(QStringLiteral("swd-studio/demo-model"));
        options.useHfCache = false;
        controller.configure(options);
        RunRequest r;
        r.prompt = prompt;
        r.seed = 7;
        r.schedule = loadScheduleFile(scheduleFile.toStdString());
        r.label = kSwdLabel;
        r.model.kind = ModelChoice::Kind::Demo;
        r.preview = PreviewMode::Off;
        r.outputFolder = uiOut.path();
        QSignalSpy results(&controller, &GenerationController::runFinished);
        QSignalSpy failed(&controller, &GenerationController::failed);
        QSignalSpy finished(&controller, &GenerationController::jobFinished);
        QVERIFY(controller.start({r}) > 0);
        QVERIFY(finished.wait(300000));
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.front().at(0).toString()));
        const RunResult ui = results.front().at(0).value<RunResult>();
        QCOMPARE(ui.savedPaths.size(), 1);

        QProcess cli;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("XDG_CACHE_HOME"), cache.path());
        cli.setProcessEnvironment(env);
        cli.start(QStringLiteral(SWD_CLI_PATH),
                  {QStringLiteral("generate"), QStringLiteral("--model"), QStringLiteral("demo"),
                   QStringLiteral("--schedule"), scheduleFile, QStringLiteral("--prompt"), prompt,
                   QStringLiteral("--seed"), QStringLiteral("7"), QStringLiteral("--out"), cliOut.path(),
                   QStringLiteral("--quiet")});
        QVERIFY(cli.waitForFinished(300000));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
        const QString cliFile = QString::fromUtf8(cli.readAllStandardOutput()).trimmed();
        QVERIFY2(cliFile.startsWith(cliOut.path()), qPrintable(cliFile));

        const ImageMetadata a = readImageMetadata(ui.savedPaths.front().toStdString());
        const ImageMetadata b = readImageMetadata(cliFile.toStdString());
        QVERIFY(a.parameters.find("a red fox in fresh snow") != std::string::npos);
        QCOMPARE(QString::fromStdString(a.parameters), QString::fromStdString(b.parameters));
        QCOMPARE(QString::fromStdString(a.software), QString::fromStdString(b.software));
        QVERIFY(QString::fromStdString(a.software).startsWith(QStringLiteral("swd-studio ")));
        auto recordWithoutTime = [](const std::string& text) {
            nlohmann::json j = nlohmann::json::parse(text);
            j["provenance"].erase("total_ms");
            return j;
        };
        const nlohmann::json ra = recordWithoutTime(a.request), rb = recordWithoutTime(b.request);
        QVERIFY(ra.at("provenance").at("model_sha256").get<std::string>().size() == 64);
        QCOMPARE(QString::fromStdString(ra.dump(2)), QString::fromStdString(rb.dump(2)));
    }

    void demoModelCompareInTheWindow() {
        MainWindow::Options o;
        o.discoverModels = false;
        MainWindow window(o);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        AppSettings s = window.settings();
        QTemporaryDir out;
        s.outputFolder = out.path();
        s.previewMode = QStringLiteral("projection");
        s.useHfCache = false;
        window.applySettings(s);
        ModelChoice c;
        c.kind = ModelChoice::Kind::Demo;
        window.promptPanel()->setModelChoice(c);
        window.promptPanel()->setPrompt(QStringLiteral("a small boat"));
        window.promptPanel()->setSeed(7);
        window.promptPanel()->setSeedLocked(true);
        ScheduleEditor* editor = window.scheduleEditor();
        QVERIFY(editor->loadPreset(QStringLiteral("swd-2b-6step")));
        ScheduleTableModel* swdModel = editor->model(ScheduleEditor::Slot::Swd);
        swdModel->pasteText(QStringLiteral("16,24,32"), 0, ScheduleTableModel::ScaleColumn);
        swdModel->removeRows(3, 3);
        swdModel->pasteText(QStringLiteral("1, 0.8, 0.5, 0"), 0, ScheduleTableModel::SigmaColumn);
        editor->setSchedule(ScheduleEditor::Slot::Full, makeFullResolutionSchedule(6, 3.0, 32, 1.0, 64));
        const int historyBefore = int(window.historyStore()->entries().size());
        QSignalSpy settled(&window, &MainWindow::jobSettled);
        QVERIFY(window.generate(MainWindow::RunKind::Compare));
        QVERIFY(settled.wait(300000));
        QVERIFY2(window.messageText().isEmpty(), qPrintable(window.messageText()));
        QCOMPARE(window.compareView()->imageA().size(), QSize(256, 256));
        QCOMPARE(window.compareView()->imageB().size(), QSize(256, 256));
        QVERIFY(window.compareView()->labelA().contains(QLatin1String("seed 7")));
        QVERIFY(window.compareView()->labelB().contains(QLatin1String("seed 7")));
        QCOMPARE(window.stepStrip()->steps(kSwdLabel).size(), 3);
        QCOMPARE(window.stepStrip()->steps(kFullLabel).size(), 6);
        QCOMPARE(window.stepStrip()->lane(kSwdLabel)->count(), 3);
        QVERIFY(window.summaryText().contains(QLatin1String("faster")));
        QCOMPARE(int(window.historyStore()->entries().size()), historyBefore + 2);
        QCOMPARE(QDir(out.path()).entryList({QStringLiteral("*.png")}).size(), 2);
        // A click on a step shows it large.
        QListWidget* lane = window.stepStrip()->lane(kFullLabel);
        QTest::mouseClick(lane->viewport(), Qt::LeftButton, {}, lane->visualItemRect(lane->item(2)).center());
        QVERIFY(window.compareView()->labelB().contains(QLatin1String("step 3/6")));
        // Recalling the SwD run from the history restores its schedule, and brings back the full-resolution
        // run of the same Compare next to it.
        editor->setSchedule(ScheduleEditor::Slot::Swd, builtinPreset("swd-2b-6step"));
        window.compareView()->clearB();
        const HistoryEntry swdEntry = window.historyStore()->entries().at(1);
        QCOMPARE(swdEntry.label, kSwdLabel);
        QCOMPARE(window.historyStore()->jobOf(swdEntry).size(), 2);
        window.recall(swdEntry);
        QCOMPARE(window.compareView()->imageB().size(), QSize(256, 256));
        QCOMPARE(window.stepStrip()->steps(kFullLabel).size(), 6);
        QCOMPARE(editor->schedule(ScheduleEditor::Slot::Swd).scales, (std::vector<int>{16, 24, 32}));
        QCOMPARE(window.promptPanel()->prompt(), QStringLiteral("a small boat"));
        QCOMPARE(window.stepStrip()->steps(kSwdLabel).size(), 3);
        // The run calibrated the time estimates of the demo model; the next start has them at once.
        QVERIFY(editor->model(ScheduleEditor::Slot::Swd)->costCalibrated());
        MainWindow next(o);
        QCOMPARE(next.promptPanel()->modelChoice().kind, ModelChoice::Kind::Demo);
        QVERIFY(next.scheduleEditor()->model(ScheduleEditor::Slot::Swd)->costCalibrated());
        next.scheduleEditor()->setSchedule(ScheduleEditor::Slot::Swd,
                                           editor->schedule(ScheduleEditor::Slot::Swd));
        QCOMPARE(next.scheduleEditor()->model(ScheduleEditor::Slot::Swd)->estimatedTotalMs(),
                 editor->model(ScheduleEditor::Slot::Swd)->estimatedTotalMs());
    }
};

QTEST_MAIN(TestUi)
#include "tst_ui.moc"
