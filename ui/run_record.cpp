#include "run_record.h"

#include "image/image_io.h"
#include "pipeline/generation_request.h"
#include "util/error.h"

#include <QFileInfo>
#include <QLocale>
#include <QRegularExpression>

namespace swd::ui {

namespace {

bool isFullResolution(const GenerationRequest& r) {
    return r.schedule.sampler == SamplerKind::FlowEuler && !r.useAdapter;
}

template <typename T>
std::vector<T> parseList(const std::string& text) {
    std::vector<T> out;
    static const QRegularExpression separators(QStringLiteral("[\\s,;\\[\\]]+"));
    for (const QString& t : QString::fromStdString(text).split(separators, Qt::SkipEmptyParts)) {
        bool ok = false;
        const double v = QLocale::c().toDouble(t, &ok);
        if (!ok) return {};
        out.push_back(static_cast<T>(v));
    }
    return out;
}

}  // namespace

RestoredRun restoreFromRecordJson(const QString& json, const QString& label) {
    const ImageRecord record = parseImageRecord(json.toStdString(), label.toStdString());
    const GenerationRequest& g = record.request;
    RestoredRun out;
    out.source = QObject::tr("SwD Studio record");
    RunRequest& r = out.request;
    r.prompt = QString::fromStdString(g.prompt);
    r.negativePrompt = QString::fromStdString(g.negativePrompt);
    r.seed = record.provenance.imageSeed ? record.provenance.imageSeed : g.seed;
    r.schedule = g.schedule;
    r.batchSize = 1;
    r.device = QString::fromStdString(g.device);
    r.precision = g.precision;
    r.preview = g.preview;
    r.useAdapter = g.useAdapter;
    r.cfgBatched = g.cfgBatched;
    out.fullResolution = isFullResolution(g) || g.label == "Full resolution";
    r.label = out.fullResolution ? kFullLabel : kSwdLabel;
    out.modelName = QString::fromStdString(record.provenance.modelName);
    out.adapterName = QString::fromStdString(record.provenance.adapterName);
    out.deviceUsed = QString::fromStdString(record.provenance.deviceUsed);
    if (!out.modelName.isEmpty())
        out.notes << QObject::tr(
                         "Made with %1%2: models are recorded by name and hash, so check the Model picker.")
                         .arg(out.modelName, out.adapterName.isEmpty()
                                                 ? QString()
                                                 : QStringLiteral(" + ") + out.adapterName);
    return out;
}

RestoredRun restoreFromA1111(const QString& text, const QString& label) {
    const A1111Parameters p = parseA1111Parameters(text.toStdString());
    if (!p.find("Steps"))
        throwBadInput("{}: the image's parameters hold no generation settings (no \"Steps:\" line)",
                      label.toStdString());
    RestoredRun out;
    out.source = QObject::tr("A1111 parameters");
    RunRequest& r = out.request;
    r.prompt = QString::fromStdString(p.prompt);
    r.negativePrompt = QString::fromStdString(p.negativePrompt);
    auto number = [&](const char* key, double fallback) {
        const std::string* v = p.find(key);
        if (!v) return fallback;
        bool ok = false;
        const double d = QLocale::c().toDouble(QString::fromStdString(*v).trimmed(), &ok);
        return ok ? d : fallback;
    };
    if (const std::string* seed = p.find("Seed"))
        r.seed = QString::fromStdString(*seed).trimmed().toULongLong();
    const int steps = static_cast<int>(number("Steps", 0));
    const double guidance = number("CFG scale", 1.0);
    const int t5 = static_cast<int>(number("T5 length", 256));
    int side = 1024;
    if (const std::string* size = p.find("Size")) {
        const QStringList wh = QString::fromStdString(*size).split(QLatin1Char('x'));
        if (wh.size() == 2) side = wh[0].toInt();
    }
    const std::string* sampler = p.find("Sampler");
    const bool scaleWise =
        sampler && QString::fromStdString(*sampler).contains(QLatin1String("SwD"), Qt::CaseInsensitive);

    Schedule s;
    const std::vector<int> scales = p.find("Scales") ? parseList<int>(*p.find("Scales")) : std::vector<int>{};
    const std::vector<double> sigmas =
        p.find("Sigmas") ? parseList<double>(*p.find("Sigmas")) : std::vector<double>{};
    if (!scales.empty() && !sigmas.empty()) {
        s.scales = scales;
        s.sigmas = sigmas;
        s.sampler = scaleWise ? SamplerKind::ScaleWise : SamplerKind::FlowEuler;
        s.guidance = guidance;
        s.t5Length = t5;
    } else {
        s = makeFullResolutionSchedule(std::max(1, steps), number("Shift", 3.0),
                                       std::max(2, side / 8 / 2 * 2), guidance, t5);
        out.notes << QObject::tr(
            "The image stores no σ list: the schedule was rebuilt from Steps and Shift.");
    }
    if (const std::string* name = p.find("Schedule")) s.name = *name;
    if (s.name.empty())
        s.name = QObject::tr("Restored from %1").arg(QFileInfo(label).fileName()).toStdString();
    // "Adapter" since the A1111 text says "Lora hashes"; files written before say "Lora".
    const std::string* adapter = p.find("Adapter") ? p.find("Adapter") : p.find("Lora");
    if (adapter) s.adapter = *adapter;
    r.schedule = s;
    r.useAdapter = s.sampler == SamplerKind::ScaleWise;
    out.fullResolution = s.sampler == SamplerKind::FlowEuler;
    r.label = out.fullResolution ? kFullLabel : kSwdLabel;
    if (const std::string* model = p.find("Model")) out.modelName = QString::fromStdString(*model);
    if (adapter) out.adapterName = QString::fromStdString(*adapter);
    out.notes << QObject::tr(
        "Restored from A1111-style parameters: device and precision are not stored there.");
    return out;
}

RestoredRun restoreFromImageFile(const QString& path) {
    const ImageMetadata meta = readImageMetadata(path.toStdString());
    if (!meta.request.empty()) {
        try {
            return restoreFromRecordJson(QString::fromStdString(meta.request), path);
        } catch (const std::exception&) {
            if (meta.parameters.empty()) throw;  // nothing else to go on: say why the record is unusable
        }
    }
    if (!meta.parameters.empty()) return restoreFromA1111(QString::fromStdString(meta.parameters), path);
    throwBadInput(
        "{}: the image carries no generation settings (neither a SwD Studio record nor A1111 "
        "parameters); it can still be viewed",
        path.toStdString());
}

}  // namespace swd::ui
