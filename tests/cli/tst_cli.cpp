// The `swd` command line, run as users run it: output, exit codes (0 ok, 2 bad input, 1 failure).
#include "core/test_util.h"

#include "io/file_hash.h"
#include "io/tensor_store.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <sys/types.h>
#include <csignal>

namespace {

struct Result {
    int code = -1;
    QString out;
    QString err;
};

// Runs swd; a run that takes longer than `timeoutMs` is killed and reported with code -2 (a hang is a
// failure, not a stuck test).
Result runSwd(const QStringList& args, int timeoutMs = 600000) {
    QProcess p;
    p.start(QStringLiteral(SWD_CLI_PATH), args);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(10000);
        return {-2, QString(), QStringLiteral("swd did not finish in time (killed)")};
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}

QString str(const std::filesystem::path& p) {
    return QString::fromStdString(p.string());
}

QString data(const char* rel) {
    return QString::fromStdString((swd::test::dataDir() / rel).string());
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void helpDocumentsEveryCommand() {
        const Result r = runSwd({"--help"});
        QCOMPARE(r.code, 0);
        for (const char* cmd : {"presets", "schedule", "check-golden"}) QVERIFY2(r.out.contains(cmd), cmd);
        const Result sub = runSwd({"check-golden", "--help"});
        QCOMPARE(sub.code, 0);
        QVERIFY(sub.out.contains("--tokenizers"));
    }

    void unknownOptionIsBadInput() {
        const Result r = runSwd({"presets", "list", "--bogus"});
        QCOMPARE(r.code, 2);
        QVERIFY(runSwd({}).code == 2);  // a command is required
    }

    void presetsListAndShow() {
        const Result list = runSwd({"presets", "list"});
        QCOMPARE(list.code, 0);
        for (const char* id : {"swd-2b-6step", "swd-2b-4step", "swd-2b-4step-card", "swd-8b-6step",
                               "swd-8b-4step", "sd35-medium-full", "sd35-large-full"})
            QVERIFY2(list.out.contains(id), id);
        const Result show = runSwd({"presets", "show", "swd-2b-6step"});
        QCOMPARE(show.code, 0);
        QVERIFY(show.out.contains("\"scales\""));
        QVERIFY(show.out.contains("0.6022"));
        QVERIFY(show.out.contains("1024"));  // image side of the last step
        const Result missing = runSwd({"presets", "show", "nope"});
        QCOMPARE(missing.code, 2);
        QVERIFY(missing.err.contains("unknown preset 'nope'"));
    }

    void scheduleValidate() {
        swd::test::ScratchDir dir;
        const auto good = dir.file("good.json");
        swd::test::writeBytes(
            good, R"({"name":"mine","model":"sd3.5-medium","scales":[32,64],"sigmas":[1,0.8,0]})");
        const Result ok = runSwd({"schedule", "validate", QString::fromStdString(good.string())});
        QCOMPARE(ok.code, 0);
        QVERIFY(ok.out.contains("ok (2 steps"));

        const auto bad = dir.file("bad.json");
        swd::test::writeBytes(bad, R"({"name":"mine","scales":[32,31,16],"sigmas":[1,0.9,0.95]})");
        const Result r = runSwd({"schedule", "validate", QString::fromStdString(bad.string())});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("6 problems"), qPrintable(r.err));
        QVERIFY(r.err.contains("scales[1]: scale 31 must be a multiple of 2"));
        QVERIFY(r.err.contains("scales[1]: scale 31 is smaller than the previous step's 32"));
        QVERIFY(r.err.contains("scales[2]: scale 16 is smaller"));
        QVERIFY(r.err.contains("sigmas[2]: the last sigma must be 0"));
        QVERIFY(r.err.contains("sigmas: needs 4 values"));
        QVERIFY(r.err.contains("sigmas[2]: sigma 0.95 is not below"));

        const auto broken = dir.file("broken.json");
        swd::test::writeBytes(broken, "{");
        const Result b = runSwd({"schedule", "validate", QString::fromStdString(broken.string())});
        QCOMPARE(b.code, 2);
        QVERIFY(b.err.contains("not valid JSON"));
    }

    void checkGoldenScheduler() {
        const Result r = runSwd({"check-golden", data("golden/scheduler")});
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("PASS  scheduler  steps28_shift3.sigmas"));
        QVERIFY(r.out.contains("all passed"));
    }

    void checkGoldenUnknownKindFails() {
        swd::test::ScratchDir dir;
        std::filesystem::create_directories(dir.file("case"));
        swd::test::writeBytes(dir.file("case") / "case.json", R"({"kind":"teleporter"})");
        const Result r = runSwd({"check-golden", QString::fromStdString(dir.file("case").string())});
        QCOMPARE(r.code, 1);
        QVERIFY(r.out.contains("unknown golden kind 'teleporter'"));
        QVERIFY(!r.out.contains("all passed"));
    }

    // generate, inspect and compare on the built-in demo model with a small schedule (128 px).
    void generateInspectAndCompareOnTheDemoModel() {
        swd::test::ScratchDir dir;
        const QString cache = QString::fromStdString(dir.file("cache").string());
        qputenv("XDG_CACHE_HOME", cache.toUtf8());  // the demo model is written here
        const auto schedule = dir.file("small.json");
        swd::test::writeBytes(
            schedule,
            R"({"name":"small SwD","model":"sd3.5-medium","adapter":"x","compare_with":"sd35-medium-full",)"
            R"("scales":[8,12,16],"sigmas":[1,0.9454,0.7904,0]})");
        const QString out = QString::fromStdString(dir.file("out").string());
        const Result g =
            runSwd({"generate", "--model", "demo", "--schedule", QString::fromStdString(schedule.string()),
                    "--prompt", "a café in Paris", "--seed", "42", "--out", out, "--steps-out", "--quiet"});
        QVERIFY2(g.code == 0, qPrintable(g.err));
        const QString image = out + "/swd-00001.png";
        QVERIFY(QFile::exists(image));
        QVERIFY(QFile::exists(out + "/swd-00001-steps/step-03-scale16-sigma0.7904.png"));
        const Result i = runSwd({"inspect", image});
        QCOMPARE(i.code, 0);
        QVERIFY2(i.out.contains("prompt:          a café in Paris"), qPrintable(i.out));
        QVERIFY(i.out.contains("seed:            42"));
        QVERIFY(i.out.contains("scales:          8, 12, 16"));
        QVERIFY(i.out.contains("Steps: 3, Sampler: SwD scale-wise"));

        // JPEG: A1111's place for the parameters is the EXIF UserComment; exiftool reads it back whole.
        const QString jpgOut = QString::fromStdString(dir.file("jpg").string());
        const Result j = runSwd({"generate", "--model", "demo", "--schedule",
                                 QString::fromStdString(schedule.string()), "--prompt", "a café in Paris",
                                 "--seed", "42", "--out", jpgOut, "--format", "jpg", "--quiet"});
        QVERIFY2(j.code == 0, qPrintable(j.err));
        QProcess exiftool;
        exiftool.start("exiftool", {"-j", "-UserComment", jpgOut + "/swd-00001.jpg"});
        QVERIFY2(exiftool.waitForFinished(60000) && exiftool.exitCode() == 0, "exiftool did not run");
        const auto tags = nlohmann::json::parse(exiftool.readAllStandardOutput().toStdString())[0];
        const std::string comment = tags.value("UserComment", std::string());
        QVERIFY2(comment.rfind("a café in Paris\nSteps: 3, Sampler: SwD scale-wise, CFG scale: 1, Seed: 42",
                               0) == 0,
                 comment.c_str());

        // Unknown preset and a bad format are bad input.
        QCOMPARE(runSwd({"generate", "--model", "demo", "--preset", "nope", "--prompt", "x"}).code, 2);

        const Result c =
            runSwd({"compare", "--model", "demo", "--schedule", QString::fromStdString(schedule.string()),
                    "--full-preset", "sd35-medium-full", "--prompt", "a lighthouse", "--seed", "3", "--out",
                    out, "--quiet", "--t5-length", "64"});
        QVERIFY2(c.code == 0, qPrintable(c.err));
        // --quiet: every line is a file the command wrote, the report last.
        const QStringList lines = c.out.trimmed().split('\n');
        for (const QString& line : lines) QVERIFY2(QFileInfo::exists(line), qPrintable(line));
        const QString report = lines.last();
        QVERIFY2(report.endsWith("report.json"), qPrintable(report));
        QFile f(report);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const auto json = nlohmann::json::parse(f.readAll().toStdString());
        QCOMPARE(json["swd"]["steps"].size(), std::size_t(3));
        QCOMPARE(json["full_resolution"]["steps"].size(), std::size_t(40));
        QVERIFY(json["speedup"].get<double>() >
                0.0);  // a ratio of two measured totals (not a timed assertion)
        QVERIFY(json["full_resolution"]["total_ms"].get<double>() > 0.0);
        QVERIFY(json["ssim"].get<double>() <= 1.0);
        const QString folder = QFileInfo(report).path();
        for (const char* file : {"side-by-side.png", "difference.png", "swd-steps.png", "full-steps.png",
                                 "swd-00001.png", "full-00001.png"})
            QVERIFY2(QFile::exists(folder + "/" + file), file);
    }

    // --quiet prints the written paths and nothing else, on stdout; stderr stays empty.
    void quietPrintsOnlyTheWrittenFiles() {
        swd::test::ScratchDir dir;
        qputenv("XDG_CACHE_HOME", QByteArray::fromStdString(dir.file("cache").string()));
        const auto schedule = dir.file("tiny.json");
        swd::test::writeBytes(schedule, R"({"name":"tiny","model":"sd3.5-medium","adapter":"x",)"
                                        R"("scales":[8,16],"sigmas":[1,0.8,0]})");
        const QString out = QString::fromStdString(dir.file("out").string());
        // A temporary file of a run killed while writing (an hour old) is removed at the next start; a
        // user's file of a similar name is not.
        QVERIFY(QDir().mkpath(out));
        const QString stale = out + "/.swd-swd-00009.tmp0badc0de.png", mine = out + "/.swd-notes.txt";
        swd::test::writeBytes(stale.toStdString(), "partial");
        swd::test::writeBytes(mine.toStdString(), "keep");
        {
            QFile f(stale);
            QVERIFY(f.open(QIODevice::ReadWrite));
            QVERIFY(f.setFileTime(QDateTime::currentDateTime().addSecs(-3600),
                                  QFileDevice::FileModificationTime));
        }
        const Result q =
            runSwd({"generate", "--model", "demo", "--schedule", QString::fromStdString(schedule.string()),
                    "--prompt", "p", "--out", out, "--batch", "2", "--steps-out", "-q"});
        QVERIFY2(q.code == 0, qPrintable(q.err));
        QCOMPARE(q.err, QString());
        QVERIFY(!QFileInfo::exists(stale));
        QVERIFY(QFileInfo::exists(mine));
        QCOMPARE(q.out, QStringLiteral("%1/swd-00001.png\n%1/swd-00001-steps/\n%1/swd-00002.png\n"
                                       "%1/swd-00002-steps/\n")
                            .arg(out));
        // Without --quiet the same paths are still on stdout and the progress goes to stderr (one plain
        // line per step: stderr is not a terminal here).
        const Result n = runSwd({"generate", "--model", "demo", "--schedule",
                                 QString::fromStdString(schedule.string()), "--prompt", "p", "--out", out});
        QVERIFY2(n.code == 0, qPrintable(n.err));
        QCOMPARE(n.out, out + "/swd-00003.png\n");
        QVERIFY2(n.err.contains("tiny step 1/2") || n.err.contains("SwD step 1/2"), qPrintable(n.err));
        QVERIFY(n.err.contains("step 2/2"));
        QVERIFY(!n.err.contains("\x1b["));  // no escape codes off a terminal
        QVERIFY(n.err.contains("done: "));
        QVERIFY(runSwd({"generate", "--prompt", "p", "--quiet", "--verbose"}).code == 2);  // exclusive
    }

    // Every option is checked before a model is loaded: the error comes at once and names the option.
    void badOptionsAreRefusedBeforeAnyModelLoads() {
        swd::test::ScratchDir dir;
        qputenv("XDG_CACHE_HOME", QByteArray::fromStdString(dir.file("cache").string()));
        const QString out = QString::fromStdString(dir.file("out").string());
        const auto file = dir.file("a-file");
        swd::test::writeBytes(file, "x");
        struct Case {
            QStringList args;
            const char* expected;  // in the message
        };
        const std::vector<Case> cases = {
            {{"--format", "webp"}, "--format"},
            {{"--seed", "-1"}, "--seed"},
            {{"--seed", "18446744073709551616"}, "--seed"},
            {{"--seed", "12abc"}, "--seed"},
            {{"--guidance", "nan"}, "--guidance"},
            {{"--guidance", "1e308"}, "--guidance"},
            {{"--t5-length", "-5"}, "--t5-length"},
            {{"--t5-length", "4096"}, "--t5-length"},
            {{"--batch", "0"}, "--batch"},
            {{"--precision", "fp8"}, "--precision"},
            {{"--preview", "sometimes"}, "sometimes"},
            {{"--device", "tpu"}, "tpu"},
            {{"--out", QString::fromStdString((file / "sub").string())}, "--out"},
            {{"--out", QString::fromStdString(file.string())}, "--out"},
        };
        for (const auto& c : cases) {
            QStringList args = {"generate", "--model", "demo", "--prompt", "p", "--out", out};
            args += c.args;
            const Result r = runSwd(args);
            const QString what = c.args.join(' ');
            QVERIFY2(r.code == 2, qPrintable(what + ": exit " + QString::number(r.code) + "\n" + r.err));
            QVERIFY2(r.err.contains(c.expected), qPrintable(what + ": " + r.err));
            QVERIFY2(!r.err.contains("loading"), qPrintable(what + ": a model was loaded\n" + r.err));
            QVERIFY2(r.out.isEmpty(), qPrintable(what));
        }
        // The demo model was never written: nothing was loaded.
        QVERIFY(!QFileInfo::exists(QString::fromStdString(dir.file("cache").string()) +
                                   "/swd-studio/demo-model"));
    }

    // A leading zero does not make a seed octal; the largest seed is accepted as it is.
    void seedsAreDecimal() {
        swd::test::ScratchDir dir;
        qputenv("XDG_CACHE_HOME", QByteArray::fromStdString(dir.file("cache").string()));
        const auto schedule = dir.file("one.json");
        swd::test::writeBytes(schedule, R"({"name":"one","model":"sd3.5-medium","adapter":"x",)"
                                        R"("scales":[8],"sigmas":[1,0]})");
        const QString out = QString::fromStdString(dir.file("out").string());
        for (const auto& [typed, stored] : std::vector<std::pair<QString, QString>>{
                 {"010", "10"}, {"18446744073709551615", "18446744073709551615"}}) {
            const Result g = runSwd({"generate", "--model", "demo", "--schedule",
                                     QString::fromStdString(schedule.string()), "--prompt", "p", "--seed",
                                     typed, "--out", out, "--quiet"});
            QVERIFY2(g.code == 0, qPrintable(g.err));
            const Result i = runSwd({"inspect", g.out.trimmed()});
            QVERIFY2(i.out.contains("seed:            " + stored + "\n"), qPrintable(i.out));
        }
    }

    // Ctrl-C cancels like Esc in the app: after the current step, finished steps kept, exit 130.
    void interruptCancelsAfterTheCurrentStep() {
        swd::test::ScratchDir dir;
        qputenv("XDG_CACHE_HOME", QByteArray::fromStdString(dir.file("cache").string()));
        // Many steps at 512 px so that the run is still going when the signal arrives.
        std::string scales, sigmas;
        for (int i = 0; i < 150; ++i) {
            scales += (i ? "," : "") + std::string("64");
            sigmas += (i ? "," : "") + std::to_string(1.0 - i / 150.0);
        }
        const auto schedule = dir.file("long.json");
        swd::test::writeBytes(schedule, R"({"name":"long","model":"sd3.5-medium","sampler":"flow-euler",)"
                                        R"("scales":[)" +
                                            scales + R"(],"sigmas":[)" + sigmas + ",0]}");
        const QString out = QString::fromStdString(dir.file("out").string());
        QProcess p;
        p.setReadChannel(QProcess::StandardError);  // waitForReadyRead watches the progress lines
        p.start(QStringLiteral(SWD_CLI_PATH),
                {"generate", "--model", "demo", "--schedule", QString::fromStdString(schedule.string()),
                 "--prompt", "p", "--out", out, "--steps-out"});
        QString err;
        while (!err.contains("step 2/150")) {
            QVERIFY2(p.waitForReadyRead(120000), qPrintable("no step reported: " + err));
            err += QString::fromUtf8(p.readAllStandardError());
        }
        ::kill(static_cast<pid_t>(p.processId()), SIGINT);
        QVERIFY(p.waitForFinished(120000));
        err += QString::fromUtf8(p.readAllStandardError());
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 130);
        QVERIFY2(err.contains("cancelled after"), qPrintable(err));
        // The finished steps were written, the final image was not, and no temporary file is left.
        const QStringList steps = QDir(out + "/full-00001-steps").entryList(QDir::Files | QDir::Hidden);
        QVERIFY2(steps.size() >= 2 && steps.size() < 150, qPrintable(steps.join(", ")));
        for (const QString& f : steps) QVERIFY2(f.startsWith("step-"), qPrintable(f));
        QVERIFY(!QFileInfo::exists(out + "/full-00001.png"));
    }

    // A schedule whose adapter is "" runs the base model: the image records no adapter.
    void emptyAdapterRunsTheBaseModel() {
        swd::test::ScratchDir dir;
        qputenv("XDG_CACHE_HOME", QByteArray::fromStdString(dir.file("cache").string()));
        const QString out = QString::fromStdString(dir.file("out").string());
        auto run = [&](const char* adapter) {
            const auto schedule = dir.file(std::string("s-") + adapter + ".json");
            swd::test::writeBytes(
                schedule, std::string("{\"name\":\"s\",\"model\":\"sd3.5-medium\",\"adapter\":\"") + adapter +
                              "\",\"scales\":[8,16],\"sigmas\":[1,0.8,0]}");
            const Result g = runSwd({"generate", "--model", "demo", "--schedule",
                                     QString::fromStdString(schedule.string()), "--prompt", "p", "--seed",
                                     "5", "--out", out, "--quiet"});
            if (g.code != 0) qWarning("%s", qPrintable(g.err));
            return g.out.trimmed();
        };
        const QString base = run(""), withAdapter = run("x");
        QVERIFY(!base.isEmpty() && !withAdapter.isEmpty());
        const Result ib = runSwd({"inspect", base}), ia = runSwd({"inspect", withAdapter});
        QVERIFY2(!ib.out.contains("adapter:"), qPrintable(ib.out));
        QVERIFY2(ia.out.contains("adapter:"), qPrintable(ia.out));
        // --adapter against a base-model schedule is a contradiction, said before anything loads.
        const auto schedule = dir.file("s-.json");
        const Result r =
            runSwd({"generate", "--model", "demo", "--schedule", QString::fromStdString(schedule.string()),
                    "--adapter", "/x", "--prompt", "p"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("base model"), qPrintable(r.err));
    }

    // --version names the libraries and the data files this binary uses.
    void versionNamesLibrariesAndData() {
        const Result r = runSwd({"--version"});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.startsWith("swd 0."), qPrintable(r.out));
        QVERIFY(r.out.contains("libtorch "));
        QVERIFY(r.out.contains("sentencepiece module: /"));
        QVERIFY(r.out.contains("tokenizers: /"));
    }

    // The man page documents every command and every option of generate.
    void manPageCoversTheCommandLine() {
        const std::string man =
            swd::test::readBytes(swd::test::dataDir() / ".." / ".." / "packaging" / "man" / "swd.1");
        const QString page = QString::fromStdString(man).replace("\\-", "-");
        const Result help = runSwd({"--help"});
        for (const char* cmd : {"presets", "schedule", "models", "inspect", "generate", "compare", "bench",
                                "check-golden", "make-demo-model"}) {
            QVERIFY2(help.out.contains(cmd), cmd);
            QVERIFY2(page.contains(cmd), cmd);
        }
        const Result gen = runSwd({"generate", "--help"});
        const QRegularExpression option(QStringLiteral("(--[a-z0-9-]+)"));
        for (auto it = option.globalMatch(gen.out); it.hasNext();) {
            const QString name = it.next().captured(1);
            if (name == "--help") continue;
            QVERIFY2(page.contains(name), qPrintable(name + " is not in packaging/man/swd.1"));
        }
    }

    // --- hostile inputs (issue 18): exit 2 with the file and field, bounded time ------------------

    void hostileSchedulesAreBadInput() {
        swd::test::ScratchDir dir;
        const auto huge = dir.file("huge.json");
        swd::test::writeBytes(huge, R"({"name":"a","guidance":1e400,"scales":[32],"sigmas":[1,0]})");
        Result r = runSwd({"schedule", "validate", str(huge)}, 60000);
        QCOMPARE(r.code, 2);
        QVERIFY2(
            r.err.contains("huge.json") && r.err.contains("\"guidance\"") && r.err.contains("out of range"),
            qPrintable(r.err));
        QVERIFY(!r.err.contains("json.exception"));

        const auto deep = dir.file("deep.json");
        swd::test::writeBytes(deep, R"({"name":"a","scales":)" + swd::test::deepJson(100000) + "}");
        r = runSwd({"schedule", "validate", str(deep)}, 60000);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("deep.json") && r.err.contains("nested deeper than 64"), qPrintable(r.err));

        const auto multi = dir.file("multi.json");
        swd::test::writeBytes(multi,
                              R"({"name":"a","steps":4294967300,"scale":32.9,"t5_length":4294967808})");
        r = runSwd({"schedule", "validate", str(multi)}, 60000);
        QCOMPARE(r.code, 2);
        for (const char* field : {"\"steps\"", "\"scale\"", "\"t5_length\""})
            QVERIFY2(r.err.contains(field), qPrintable(r.err));

        std::filesystem::create_directories(dir.file("folder.json"));
        r = runSwd({"schedule", "validate", str(dir.file("folder.json"))}, 60000);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("folder.json: is a folder"), qPrintable(r.err));

        swd::test::makeFifo(dir.file("fifo.json"));
        r = runSwd({"schedule", "validate", str(dir.file("fifo.json"))}, 60000);
        QVERIFY2(r.code == 2, qPrintable(r.err));
        QVERIFY2(r.err.contains("fifo.json: is a FIFO"), qPrintable(r.err));
    }

    void hostileModelFilesAreBadInput() {
        swd::test::ScratchDir dir;
        swd::test::makeFifo(dir.file("model.safetensors"));
        Result r = runSwd({"inspect", str(dir.file("model.safetensors"))}, 60000);
        QVERIFY2(r.code == 2, qPrintable(r.err));
        QVERIFY2(r.err.contains("model.safetensors") && r.err.contains("FIFO"), qPrintable(r.err));

        std::filesystem::create_directories(dir.file("m"));
        swd::test::writeBytes(dir.file("m") / "model.safetensors.index.json",
                              R"({"weight_map":{"a":"../../../etc/passwd"}})");
        r = runSwd({"inspect", str(dir.file("m") / "model.safetensors.index.json")}, 60000);
        QVERIFY2(r.code == 2, qPrintable(r.err));
        QVERIFY2(r.err.contains("not a file inside the index's folder"), qPrintable(r.err));
    }

    void makeDemoModelNeverDeletesUserFiles() {
        swd::test::ScratchDir dir;
        // A folder with the user's files: refused, nothing touched.
        const auto mine = dir.file("mine");
        std::filesystem::create_directories(mine / "sub");
        swd::test::writeBytes(mine / "notes.txt", "keep me");
        swd::test::writeBytes(mine / "sub" / "photo.png", "also mine");
        Result r = runSwd({"make-demo-model", str(mine)});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("mine") && r.err.contains("not a demo model"), qPrintable(r.err));
        QCOMPARE(swd::test::readBytes(mine / "notes.txt"), std::string("keep me"));
        QCOMPARE(swd::test::readBytes(mine / "sub" / "photo.png"), std::string("also mine"));
        // A file where the folder should be: refused, kept.
        swd::test::writeBytes(dir.file("file"), "x");
        QCOMPARE(runSwd({"make-demo-model", str(dir.file("file"))}).code, 2);
        QCOMPARE(swd::test::readBytes(dir.file("file")), std::string("x"));

        // An empty folder is filled; a demo model written before is rewritten, keeping what the user added.
        const auto demo = dir.file("demo");
        std::filesystem::create_directories(demo);
        r = runSwd({"make-demo-model", str(demo)});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(std::filesystem::exists(demo / "swd_demo_model.json"));
        const std::string weights =
            swd::test::readBytes(demo / "transformer" / "diffusion_pytorch_model.safetensors");
        swd::test::writeBytes(demo / "README.mine", "my notes");
        swd::test::writeBytes(demo / "transformer" / "extra.txt", "mine too");
        swd::test::writeBytes(demo / "transformer" / "diffusion_pytorch_model.safetensors", "damaged");
        r = runSwd({"make-demo-model", str(demo)});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(swd::test::readBytes(demo / "README.mine"), std::string("my notes"));
        QCOMPARE(swd::test::readBytes(demo / "transformer" / "extra.txt"), std::string("mine too"));
        QVERIFY(swd::test::readBytes(demo / "transformer" / "diffusion_pytorch_model.safetensors") ==
                weights);
        // No temporary folder is left beside it.
        for (const auto& e : std::filesystem::directory_iterator(dir.path()))
            QVERIFY2(e.path().filename().string().find(".tmp") == std::string::npos, e.path().c_str());
    }

    // --- pickled SiD generators: read by the restricted reader, converted to safetensors ---------

    void inspectPickleNamesKeyAndTensors() {
        const Result r = runSwd({"inspect", data("golden/sid_pickle/generator_sd15_G.pkl")}, 120000);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.out.contains("UNet2DConditionModel under key 'G' (float32, 684 tensors)"),
                 qPrintable(r.out));
        QVERIFY2(r.out.contains("read without running code"), qPrintable(r.out));
        QVERIFY2(r.out.contains("conv_in.*") && r.out.contains("total"), qPrintable(r.out));
    }

    void inspectRefusedPickleIsBadInput() {
        for (const char* file : {"pickle/os_system.pkl", "pickle/eval_stack_global.pkl"}) {
            const Result r = runSwd({"inspect", data(file)}, 60000);
            QCOMPARE(r.code, 2);
            QVERIFY2(r.err.contains("refused global '") && r.err.contains(data(file)), qPrintable(r.err));
        }
        const Result r =
            runSwd({"convert", data("pickle/posix_system.pkl"), "--out", "/tmp/never.safetensors"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("refused global 'posix.system'"), qPrintable(r.err));
        QVERIFY(!std::filesystem::exists("/tmp/never.safetensors"));
    }

    void convertPickleWritesEqualTensorsAndMetadata() {
        swd::test::ScratchDir dir;
        const auto source = swd::test::dataDir() / "golden" / "sid_pickle" / "generator_sdxl.pkl";
        const auto out = dir.file("sdxl.safetensors");
        Result r = runSwd({"convert", str(source), "--out", str(out), "--t-init", "625", "--steps", "4",
                           "--base", "stabilityai/stable-diffusion-xl-base-1.0"},
                          120000);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const swd::PickleCheckpoint ckpt = swd::readPickleCheckpoint(source);
        const swd::TensorStore written = swd::TensorStore::open(out);
        QCOMPARE(written.names().size(), ckpt.tensors.size());
        for (const auto& [name, t] : ckpt.tensors) {
            const at::Tensor back = written.get(name);
            QCOMPARE(back.scalar_type(), at::kHalf);  // stored dtype kept
            QVERIFY2(at::equal(back.to(at::kFloat), t.to(at::kFloat)), name.c_str());
        }
        const auto meta = written.metadata();
        QCOMPARE(meta.at("sid.t_init"), std::string("625"));
        QCOMPARE(meta.at("sid.steps"), std::string("4"));
        QCOMPARE(meta.at("sid.base_repo"), std::string("stabilityai/stable-diffusion-xl-base-1.0"));
        QCOMPARE(meta.at("sid.source_file"), std::string("generator_sdxl.pkl"));
        QCOMPARE(meta.at("sid.source_sha256"), swd::fileSha256(source));
        QCOMPARE(meta.at("sid.pickle_key"), std::string("ema"));

        // An existing output is kept unless --force; --dtype converts.
        r = runSwd({"convert", str(source), "--out", str(out), "--dtype", "fp32"}, 120000);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--force"), qPrintable(r.err));
        r = runSwd({"convert", str(source), "--out", str(out), "--dtype", "fp32", "--force"}, 120000);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const swd::TensorStore fp32 = swd::TensorStore::open(out);
        QCOMPARE(fp32.get("conv_in.weight").scalar_type(), at::kFloat);
        QVERIFY(at::equal(fp32.get("conv_in.weight"), ckpt.tensors.front().second.to(at::kFloat)));
        QVERIFY(fp32.metadata().count("sid.base_repo") == 0);
    }

    void checkGoldenMissingFolderIsBadInput() {
        const Result r = runSwd({"check-golden", "/nonexistent/case"});
        QCOMPARE(r.code, 2);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
