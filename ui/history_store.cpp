#include "history_store.h"

#include "image_conversion.h"
#include "settings.h"
#include "util/file_read.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include <algorithm>

namespace swd::ui {

namespace {

const QString kEntryFile = QStringLiteral("entry.json");
// An entry holds the request, timings and paths: a few kB; prompts make it larger, never this large.
constexpr std::uint64_t kMaxEntryBytes = 16ull * 1024 * 1024;
const QString kImageFile = QStringLiteral("image.png");
const QString kThumbFile = QStringLiteral("thumb.png");

QJsonObject timingsJson(const RunTimings& t) {
    return QJsonObject{{QStringLiteral("load_ms"), t.loadMs},
                       {QStringLiteral("text_ms"), t.textMs},
                       {QStringLiteral("sampling_ms"), t.samplingMs},
                       {QStringLiteral("decode_ms"), t.decodeMs},
                       {QStringLiteral("total_ms"), t.totalMs},
                       {QStringLiteral("peak_rss_bytes"), double(t.peakRssBytes)}};
}

RunTimings timingsFromJson(const QJsonObject& o) {
    RunTimings t;
    t.loadMs = o.value(QStringLiteral("load_ms")).toDouble();
    t.textMs = o.value(QStringLiteral("text_ms")).toDouble();
    t.samplingMs = o.value(QStringLiteral("sampling_ms")).toDouble();
    t.decodeMs = o.value(QStringLiteral("decode_ms")).toDouble();
    t.totalMs = o.value(QStringLiteral("total_ms")).toDouble();
    t.peakRssBytes = quint64(o.value(QStringLiteral("peak_rss_bytes")).toDouble());
    return t;
}

}  // namespace

QString HistoryEntry::imagePath() const {
    return QDir(dir).filePath(kImageFile);
}

QString HistoryEntry::thumbnailPath() const {
    return QDir(dir).filePath(kThumbFile);
}

QImage HistoryEntry::image() const {
    return QImage(imagePath());
}

QImage HistoryEntry::thumbnail() const {
    return QImage(thumbnailPath());
}

QList<StepImage> HistoryEntry::loadSteps() const {
    QList<StepImage> out;
    for (int i = 0; i < steps.size(); ++i) {
        const HistoryStepMeta& m = steps[i];
        StepImage s;
        s.runLabel = label;
        s.index = i;
        s.stepCount = stepCount;
        s.scale = m.scale;
        s.sigma = m.sigma;
        s.sigmaNext = m.sigmaNext;
        s.ms = m.ms;
        if (!m.imageFile.isEmpty()) s.image = QImage(QDir(dir).filePath(m.imageFile));
        out << s;
    }
    return out;
}

HistoryStore::HistoryStore(const QString& dir, QObject* parent)
    : QObject(parent), m_dir(dir.isEmpty() ? historyDir() : dir) {
    qRegisterMetaType<HistoryEntry>();
    QDir().mkpath(m_dir);
    reload();
}

std::optional<HistoryEntry> HistoryStore::add(const RunResult& result, const QString& jobKey) {
    m_error.clear();
    if (result.image().isNull()) return std::nullopt;
    const QDateTime now = QDateTime::currentDateTime();
    QString base = now.toString(QStringLiteral("yyyyMMdd-HHmmss-zzz")) + QLatin1Char('-') +
                   (result.request.label == kFullLabel ? QStringLiteral("full") : QStringLiteral("swd"));
    QString id = base;
    for (int n = 2; QDir(m_dir).exists(id); ++n) id = base + QLatin1Char('-') + QString::number(n);
    const QString folder = QDir(m_dir).filePath(id);
    if (!QDir().mkpath(folder + QStringLiteral("/steps"))) {
        m_error = tr("Cannot create the history folder %1").arg(folder);
        return std::nullopt;
    }

    HistoryEntry e;
    e.id = id;
    e.dir = folder;
    e.created = now;
    e.jobKey = jobKey.isEmpty() ? id : jobKey;
    e.label = result.request.label;
    e.prompt = result.request.prompt;
    e.seed = result.request.seed;
    e.scheduleName = QString::fromStdString(result.request.schedule.name);
    e.modelName = result.modelName;
    e.stepCount = result.request.schedule.stepCount();
    e.completedSteps = result.completedSteps;
    e.cancelled = result.cancelled;
    e.timings = result.timings;
    e.recordJson = result.recordJson;
    e.parametersText = result.parametersText;
    e.savedPaths = result.savedPaths;

    if (!result.image().save(e.imagePath(), "PNG") ||
        !thumbnail(result.image(), QSize(kThumbnailSize, kThumbnailSize)).save(e.thumbnailPath(), "PNG")) {
        m_error = tr("Cannot write the image of %1 into %2").arg(id, folder);
        return std::nullopt;
    }
    for (const StepImage& s : result.steps) {
        HistoryStepMeta m;
        m.scale = s.scale;
        m.sigma = s.sigma;
        m.sigmaNext = s.sigmaNext;
        m.ms = s.ms;
        if (!s.image.isNull()) {
            m.imageFile = QStringLiteral("steps/%1.png").arg(s.index, 3, 10, QLatin1Char('0'));
            thumbnail(s.image, QSize(kStepImageSize, kStepImageSize))
                .save(QDir(folder).filePath(m.imageFile), "PNG");
        }
        e.steps << m;
    }

    QJsonArray steps;
    for (const HistoryStepMeta& m : e.steps)
        steps.append(QJsonObject{{QStringLiteral("scale"), m.scale},
                                 {QStringLiteral("sigma"), m.sigma},
                                 {QStringLiteral("sigma_next"), m.sigmaNext},
                                 {QStringLiteral("ms"), m.ms},
                                 {QStringLiteral("image"), m.imageFile}});
    QJsonObject o{{QStringLiteral("format"), QStringLiteral("swd-studio-history/1")},
                  {QStringLiteral("id"), e.id},
                  {QStringLiteral("created"), e.created.toString(Qt::ISODateWithMs)},
                  {QStringLiteral("job"), e.jobKey},
                  {QStringLiteral("label"), e.label},
                  {QStringLiteral("prompt"), e.prompt},
                  {QStringLiteral("seed"), QString::number(e.seed)},
                  {QStringLiteral("schedule"), e.scheduleName},
                  {QStringLiteral("model"), e.modelName},
                  {QStringLiteral("step_count"), e.stepCount},
                  {QStringLiteral("completed_steps"), e.completedSteps},
                  {QStringLiteral("cancelled"), e.cancelled},
                  {QStringLiteral("timings"), timingsJson(e.timings)},
                  {QStringLiteral("record"), e.recordJson},
                  {QStringLiteral("parameters"), e.parametersText},
                  {QStringLiteral("saved"), QJsonArray::fromStringList(e.savedPaths)},
                  {QStringLiteral("steps"), steps}};
    QSaveFile file(QDir(folder).filePath(kEntryFile));
    if (!file.open(QIODevice::WriteOnly) || file.write(QJsonDocument(o).toJson()) < 0 || !file.commit()) {
        m_error = tr("Cannot write %1: %2").arg(file.fileName(), file.errorString());
        return std::nullopt;
    }
    m_entries.prepend(e);
    Q_EMIT entryAdded(e);
    return e;
}

std::optional<HistoryEntry> HistoryStore::find(const QString& id) const {
    for (const HistoryEntry& e : m_entries)
        if (e.id == id) return e;
    return std::nullopt;
}

QList<HistoryEntry> HistoryStore::jobOf(const HistoryEntry& entry) const {
    QList<HistoryEntry> out;
    for (const HistoryEntry& e : m_entries)
        if (e.jobKey == entry.jobKey) out.prepend(e);
    if (out.isEmpty()) out << entry;
    return out;
}

bool HistoryStore::remove(const QString& id) {
    for (int i = 0; i < m_entries.size(); ++i) {
        if (m_entries[i].id != id) continue;
        const bool ok = QDir(m_entries[i].dir).removeRecursively();
        m_entries.removeAt(i);
        Q_EMIT entryRemoved(id);
        return ok;
    }
    return false;
}

void HistoryStore::reload() {
    m_entries.clear();
    const QStringList folders = QDir(m_dir).entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
    for (const QString& f : folders)
        if (auto e = readEntry(QDir(m_dir).filePath(f))) m_entries << *e;
    std::stable_sort(m_entries.begin(), m_entries.end(),
                     [](const HistoryEntry& a, const HistoryEntry& b) { return a.created > b.created; });
}

std::optional<HistoryEntry> HistoryStore::readEntry(const QString& folder) {
    // Read through the core's checked reader: a FIFO or a huge file in the history folder must not
    // block or exhaust the app at start-up (a damaged entry is skipped).
    std::string bytes;
    try {
        bytes =
            readRegularFile(QDir(folder).filePath(kEntryFile).toStdString(), "history entry", kMaxEntryBytes);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(bytes));
    if (!doc.isObject()) return std::nullopt;
    const QJsonObject o = doc.object();
    if (o.value(QStringLiteral("format")).toString() != QLatin1String("swd-studio-history/1"))
        return std::nullopt;
    HistoryEntry e;
    e.id = o.value(QStringLiteral("id")).toString();
    e.dir = folder;
    e.created = QDateTime::fromString(o.value(QStringLiteral("created")).toString(), Qt::ISODateWithMs);
    e.jobKey = o.value(QStringLiteral("job")).toString(e.id);
    e.label = o.value(QStringLiteral("label")).toString();
    e.prompt = o.value(QStringLiteral("prompt")).toString();
    e.seed = o.value(QStringLiteral("seed")).toString().toULongLong();
    e.scheduleName = o.value(QStringLiteral("schedule")).toString();
    e.modelName = o.value(QStringLiteral("model")).toString();
    e.stepCount = o.value(QStringLiteral("step_count")).toInt();
    e.completedSteps = o.value(QStringLiteral("completed_steps")).toInt();
    e.cancelled = o.value(QStringLiteral("cancelled")).toBool();
    e.timings = timingsFromJson(o.value(QStringLiteral("timings")).toObject());
    e.recordJson = o.value(QStringLiteral("record")).toString();
    e.parametersText = o.value(QStringLiteral("parameters")).toString();
    for (const QJsonValue& v : o.value(QStringLiteral("saved")).toArray()) e.savedPaths << v.toString();
    for (const QJsonValue& v : o.value(QStringLiteral("steps")).toArray()) {
        const QJsonObject s = v.toObject();
        HistoryStepMeta m;
        m.scale = s.value(QStringLiteral("scale")).toInt();
        m.sigma = s.value(QStringLiteral("sigma")).toDouble();
        m.sigmaNext = s.value(QStringLiteral("sigma_next")).toDouble();
        m.ms = s.value(QStringLiteral("ms")).toDouble();
        m.imageFile = s.value(QStringLiteral("image")).toString();
        e.steps << m;
    }
    if (e.id.isEmpty() || !QFile::exists(e.imagePath())) return std::nullopt;
    return e;
}

}  // namespace swd::ui
