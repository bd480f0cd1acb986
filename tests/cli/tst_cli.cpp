// The `swd` command line, run as users run it: output, exit codes (0 ok, 2 bad input, 1 failure).
#include "core/test_util.h"

#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QtTest>

#include <nlohmann/json.hpp>

namespace {

struct Result {
    int code = -1;
    QString out;
    QString err;
};

Result runSwd(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(SWD_CLI_PATH), args);
    if (!p.waitForFinished(600000)) qFatal("swd did not finish");
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
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
        const QString report = c.out.trimmed();
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

    void checkGoldenMissingFolderIsBadInput() {
        const Result r = runSwd({"check-golden", "/nonexistent/case"});
        QCOMPARE(r.code, 2);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
