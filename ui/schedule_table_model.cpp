#include "schedule_table_model.h"

#include "family/family.h"

#include <QColor>
#include <QLocale>
#include <QRegularExpression>

#include <algorithm>
#include <cmath>
#include <limits>

namespace swd::ui {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

QString formatSigma(double v) {
    return QLocale::c().toString(v, 'g', 6);
}

// Numbers of a pasted list: separators are commas, semicolons, white space and brackets.
bool parseNumbers(const QString& text, std::vector<double>* out, QString* bad) {
    static const QRegularExpression separators(QStringLiteral("[\\s,;\\[\\]()]+"));
    const QStringList tokens = text.split(separators, Qt::SkipEmptyParts);
    for (const QString& t : tokens) {
        bool ok = false;
        const double v = QLocale::c().toDouble(t, &ok);
        if (!ok) {
            *bad = t;
            return false;
        }
        out->push_back(v);
    }
    return true;
}

// A cell edited as text: empty clears it, anything else must be a number in the C locale.
template <typename T, typename Parse>
bool parseCellText(const QVariant& value, std::optional<T>* out, bool* cleared, Parse parse) {
    const QString text = value.toString().trimmed();
    if (text.isEmpty()) {
        *cleared = true;
        out->reset();
        return true;
    }
    bool ok = false;
    const T v = parse(text, &ok);
    if (!ok) return false;
    *out = v;
    return true;
}

bool parseScale(const QVariant& value, std::optional<int>* out, bool* cleared) {
    *cleared = false;
    if (value.typeId() == QMetaType::Int || value.typeId() == QMetaType::LongLong ||
        value.typeId() == QMetaType::UInt) {
        *out = value.toInt();
        return true;
    }
    if (value.typeId() == QMetaType::Double) {
        const double d = value.toDouble();
        if (!std::isfinite(d) || d != std::round(d)) return false;
        *out = static_cast<int>(d);
        return true;
    }
    return parseCellText(value, out, cleared,
                         [](const QString& t, bool* ok) { return QLocale::c().toInt(t, ok); });
}

bool parseSigma(const QVariant& value, std::optional<double>* out, bool* cleared) {
    *cleared = false;
    if (value.typeId() == QMetaType::Double || value.typeId() == QMetaType::Float ||
        value.typeId() == QMetaType::Int) {
        *out = value.toDouble();
        return true;
    }
    return parseCellText(value, out, cleared,
                         [](const QString& t, bool* ok) { return QLocale::c().toDouble(t, ok); });
}

}  // namespace

ScheduleTableModel::ScheduleTableModel(QObject* parent) : QAbstractTableModel(parent) {
    revalidate();
}

int ScheduleTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int ScheduleTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ScheduleTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount()) return {};
    const Row& r = m_rows[static_cast<std::size_t>(index.row())];
    const int col = index.column();
    const QString issue = cellIssue(index.row(), col);
    switch (role) {
        case Qt::DisplayRole:
        case Qt::EditRole:
            switch (col) {
                case StepColumn:
                    return index.row() + 1;
                case ScaleColumn:
                    return r.scale ? QVariant(*r.scale) : QVariant(QString());
                case SigmaColumn:
                    return r.sigma ? QVariant(formatSigma(*r.sigma)) : QVariant(QString());
                case TokensColumn:
                    return r.scale ? QVariant(tokens(index.row())) : QVariant(QString());
                case TimestepColumn:
                    return r.timestep ? QVariant(*r.timestep) : QVariant(QString());
                case MsColumn: {
                    if (!r.scale || *r.scale <= 0) return QString();
                    const auto ms = estimatedStepMs();
                    return QLocale::c().toString(ms[static_cast<std::size_t>(index.row())], 'f', 0);
                }
            }
            return {};
        case ValueRole:
            if (col == ScaleColumn && r.scale) return *r.scale;
            if (col == SigmaColumn && r.sigma) return *r.sigma;
            if (col == TokensColumn && r.scale) return tokens(index.row());
            if (col == StepColumn) return index.row() + 1;
            if (col == TimestepColumn && r.timestep) return *r.timestep;
            if (col == MsColumn && r.scale) return estimatedStepMs()[static_cast<std::size_t>(index.row())];
            return {};
        case IssueRole:
            return issue;
        case Qt::ToolTipRole:
            if (!issue.isEmpty()) return issue;
            switch (col) {
                case StepColumn:
                    return tr("Step %1 of %2").arg(index.row() + 1).arg(rowCount());
                case ScaleColumn:
                    return r.scale ? tr("Latent %1×%1, image %2×%2 px").arg(*r.scale).arg(8 * *r.scale)
                                   : QString();
                case SigmaColumn:
                    return isDdpm()
                               ? tr("Noise level √(1 − ᾱ_t) of this step's timestep (follows the timestep)")
                               : tr("Noise level at the start of this step (1 = pure noise)");
                case TimestepColumn:
                    return tr("The UNet's integer DDPM timestep at this step (999 = almost pure noise)");
                case TokensColumn:
                    return tr("%1 image tokens + 77 CLIP tokens + %2 T5 tokens")
                        .arg(tokens(index.row()) - 77 - effectiveT5Length())
                        .arg(effectiveT5Length());
                case MsColumn:
                    return m_calibrated ? tr("Estimated from the throughput measured on this machine")
                                        : tr("Estimated by the cost model before any run was measured");
            }
            return {};
        case Qt::BackgroundRole:
            if (!issue.isEmpty()) return QColor(255, 205, 205);
            return {};
        case Qt::ForegroundRole:
            if (!issue.isEmpty()) return QColor(120, 0, 0);
            if (col == TokensColumn || col == MsColumn || col == StepColumn) return QColor(90, 90, 90);
            if (isDdpm() && col != TimestepColumn) return QColor(90, 90, 90);  // derived, read-only
            return {};
        case Qt::TextAlignmentRole:
            return int(Qt::AlignRight | Qt::AlignVCenter);
    }
    return {};
}

QVariant ScheduleTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
            case StepColumn:
                return tr("Step");
            case ScaleColumn:
                return tr("Scale");
            case SigmaColumn:
                return isDdpm() ? tr("Noise level") : tr("σ");
            case TokensColumn:
                return tr("Tokens");
            case TimestepColumn:
                return tr("Timestep");
            case MsColumn:
                return tr("Est. ms");
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
            case StepColumn:
                return tr("The step number");
            case ScaleColumn:
                return tr(
                    "Latent side of the step (image side = 8 × scale); a multiple of 2, never decreasing");
            case SigmaColumn:
                return isDdpm() ? tr("√(1 − ᾱ_t): the noise's share at the step's timestep (read-only)")
                                : tr("Noise level of the step, strictly decreasing in [0, 1]; the final 0 is "
                                     "implied");
            case TimestepColumn:
                return tr(
                    "The integer DDPM timestep of the step, strictly decreasing in 1..999 (SiD) or "
                    "0..999");
            case TokensColumn:
                return tr("(scale/2)² image tokens + 77 CLIP tokens + the T5 length");
            case MsColumn:
                return tr("Estimated time of the step: transformer FLOPs at this size ÷ measured throughput");
        }
    }
    return {};
}

Qt::ItemFlags ScheduleTableModel::flags(const QModelIndex& index) const {
    if (!index.isValid()) return Qt::NoItemFlags;
    Qt::ItemFlags f = Qt::ItemIsSelectable | Qt::ItemIsEnabled;
    // SiD's timesteps are the user's to edit; Euler discrete's follow its step count.
    const bool editable = isDdpm() ? index.column() == TimestepColumn && m_meta.sampler == SamplerKind::Sid
                                   : index.column() == ScaleColumn || index.column() == SigmaColumn;
    if (editable) f |= Qt::ItemIsEditable;
    return f;
}

bool ScheduleTableModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!index.isValid() || role != Qt::EditRole || index.row() >= rowCount()) return false;
    Row& r = m_rows[static_cast<std::size_t>(index.row())];
    bool cleared = false;
    if (isDdpm()) {
        // Only the timestep is the user's; scale and noise level follow the sampler and the timestep.
        std::optional<int> v;
        if (!(flags(index) & Qt::ItemIsEditable) || !parseScale(value, &v, &cleared)) return false;
        if (v == r.timestep) return true;
        r.timestep = v;
        refreshNoiseLevel(r);
    } else if (index.column() == ScaleColumn) {
        std::optional<int> v;
        if (!parseScale(value, &v, &cleared)) return false;
        if (v == r.scale) return true;
        r.scale = v;
    } else if (index.column() == SigmaColumn) {
        std::optional<double> v;
        if (!parseSigma(value, &v, &cleared)) return false;
        if (v == r.sigma) return true;
        r.sigma = v;
    } else {
        return false;
    }
    edited();
    return true;
}

bool ScheduleTableModel::insertRows(int row, int count, const QModelIndex& parent) {
    // A DDPM schedule's steps come from its sampler's grid (setSidGrid, setDdpmSteps).
    if (isDdpm() || parent.isValid() || row < 0 || row > rowCount() || count < 1) return false;
    beginInsertRows({}, row, row + count - 1);
    for (int i = 0; i < count; ++i) {
        const auto at = static_cast<std::size_t>(row + i);
        Row fresh;
        if (at > 0) {
            fresh.scale = m_rows[at - 1].scale;
        } else if (!m_rows.empty()) {
            fresh.scale = m_rows.front().scale;
        } else {
            fresh.scale = 64;
        }
        const double before = at > 0 ? m_rows[at - 1].sigma.value_or(kNaN) : 1.0;
        const double after = at < m_rows.size() ? m_rows[at].sigma.value_or(kNaN) : m_finalSigma;
        if (std::isfinite(before) && std::isfinite(after)) {
            fresh.sigma = at == 0 && after < 1.0 ? 1.0 : (before + after) / 2.0;
        }
        m_rows.insert(m_rows.begin() + static_cast<std::ptrdiff_t>(at), fresh);
    }
    endInsertRows();
    edited();
    return true;
}

bool ScheduleTableModel::removeRows(int row, int count, const QModelIndex& parent) {
    if (isDdpm() || parent.isValid() || row < 0 || count < 1 || row + count > rowCount()) return false;
    beginRemoveRows({}, row, row + count - 1);
    m_rows.erase(m_rows.begin() + row, m_rows.begin() + row + count);
    endRemoveRows();
    edited();
    return true;
}

bool ScheduleTableModel::duplicateRow(int row) {
    if (isDdpm() || row < 0 || row >= rowCount()) return false;
    beginInsertRows({}, row + 1, row + 1);
    const Row copy = m_rows[static_cast<std::size_t>(row)];
    m_rows.insert(m_rows.begin() + row + 1, copy);
    endInsertRows();
    edited();
    return true;
}

int ScheduleTableModel::pasteText(const QString& text, int row, int column) {
    m_pasteError.clear();
    if (m_meta.sampler == SamplerKind::EulerDiscrete) {
        m_pasteError = tr("Euler discrete's timesteps follow its step count");
        return 0;
    }
    if (isDdpm()) return pasteTimesteps(text, row);
    if (column == StepColumn) column = ScaleColumn;
    if (column != ScaleColumn && column != SigmaColumn) {
        m_pasteError = tr("Paste into the Scale or σ column");
        return 0;
    }
    row = qBound(0, row, rowCount());

    // Spreadsheet selection: lines of tab-separated scale and σ.
    QStringList lines = text.split(QRegularExpression(QStringLiteral("\\r?\\n")), Qt::SkipEmptyParts);
    std::vector<std::vector<double>> grid;
    bool twoColumns = lines.size() > 1;
    for (const QString& line : lines) {
        const QStringList cells = line.split(QLatin1Char('\t'), Qt::SkipEmptyParts);
        if (cells.size() < 2) twoColumns = false;
    }
    if (twoColumns && column == ScaleColumn) {
        for (const QString& line : lines) {
            std::vector<double> values;
            QString bad;
            if (!parseNumbers(line.split(QLatin1Char('\t')).mid(0, 2).join(QLatin1Char(' ')), &values,
                              &bad)) {
                m_pasteError = tr("'%1' is not a number").arg(bad);
                return 0;
            }
            grid.push_back(values);
        }
    }

    std::vector<double> values;
    if (grid.empty()) {
        QString bad;
        if (!parseNumbers(text, &values, &bad)) {
            m_pasteError = tr("'%1' is not a number").arg(bad);
            return 0;
        }
        if (values.empty()) {
            m_pasteError = tr("The clipboard holds no numbers");
            return 0;
        }
        if (column == ScaleColumn) {
            for (double v : values) {
                if (v != std::round(v) || std::abs(v) > 1e6) {
                    m_pasteError = tr("Scale %1 is not a whole number").arg(v);
                    return 0;
                }
            }
        }
    }

    int set = 0;
    const int needed = grid.empty() ? static_cast<int>(values.size()) : static_cast<int>(grid.size());
    bool finalSigmaFromList = false;
    int rowsNeeded = row + needed;
    if (grid.empty() && column == SigmaColumn && rowsNeeded == rowCount() + 1 && values.back() == 0.0 &&
        values.size() > 1) {
        finalSigmaFromList = true;  // "1.0, 0.9, ..., 0": the list includes the final σ
        --rowsNeeded;
    }
    if (rowsNeeded > rowCount()) {
        const int first = rowCount();
        beginInsertRows({}, first, rowsNeeded - 1);
        m_rows.resize(static_cast<std::size_t>(rowsNeeded));
        endInsertRows();
    }
    if (!grid.empty()) {
        for (int i = 0; i < needed; ++i) {
            Row& r = m_rows[static_cast<std::size_t>(row + i)];
            const auto& g = grid[static_cast<std::size_t>(i)];
            r.scale = static_cast<int>(std::lround(g[0]));
            ++set;
            if (g.size() > 1) {
                r.sigma = g[1];
                ++set;
            }
        }
    } else {
        for (int i = 0; i < needed; ++i) {
            if (finalSigmaFromList && i == needed - 1) {
                m_finalSigma = values.back();
                ++set;
                break;
            }
            Row& r = m_rows[static_cast<std::size_t>(row + i)];
            if (column == ScaleColumn) {
                r.scale = static_cast<int>(std::lround(values[static_cast<std::size_t>(i)]));
            } else {
                r.sigma = values[static_cast<std::size_t>(i)];
            }
            ++set;
        }
    }
    edited();
    return set;
}

void ScheduleTableModel::setSchedule(const Schedule& schedule) {
    beginResetModel();
    m_meta = schedule;
    m_meta.scales.clear();
    m_meta.sigmas.clear();
    m_rows.clear();
    std::vector<double> stepSigmas = schedule.sigmas;
    m_finalSigma = 0.0;
    if (!stepSigmas.empty() && stepSigmas.size() > schedule.scales.size()) {
        m_finalSigma = stepSigmas.back();
        stepSigmas.pop_back();
    }
    const std::size_t n = std::max(schedule.scales.size(), stepSigmas.size());
    m_rows.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (i < schedule.scales.size()) m_rows[i].scale = schedule.scales[i];
        if (i < stepSigmas.size()) m_rows[i].sigma = stepSigmas[i];
    }
    m_meta.timesteps.clear();  // the rows hold them
    if (isDdpm()) {
        m_finalSigma = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            if (i < schedule.timesteps.size()) m_rows[i].timestep = schedule.timesteps[i];
            refreshNoiseLevel(m_rows[i]);
        }
    }
    revalidate();
    endResetModel();
    m_lastValid = valid();
    Q_EMIT validityChanged(m_lastValid);
}

Schedule ScheduleTableModel::schedule() const {
    Schedule s = m_meta;
    s.scales.reserve(m_rows.size());
    s.sigmas.reserve(m_rows.size() + 1);
    for (const Row& r : m_rows) {
        s.scales.push_back(r.scale.value_or(0));
        s.sigmas.push_back(r.sigma.value_or(kNaN));
    }
    s.sigmas.push_back(m_finalSigma);
    if (isDdpm()) {
        // An empty timestep reads -1, which validation rejects (revalidate words it as "empty").
        for (const Row& r : m_rows) s.timesteps.push_back(r.timestep.value_or(-1));
        s.steps = s.stepCount();
        return s;
    }
    // A generated full-resolution schedule keeps its generator form only while it is unchanged.
    if (s.steps && s.shift) {
        const Schedule generated =
            makeFullResolutionSchedule(*s.steps, *s.shift, s.finalScale(), s.guidance, s.t5Length);
        if (generated.scales != s.scales || generated.sigmas != s.sigmas) {
            s.steps.reset();
            s.shift.reset();
        }
    }
    return s;
}

void ScheduleTableModel::setGuidance(double guidance) {
    if (guidance == m_meta.guidance) return;
    m_meta.guidance = guidance;
    edited();
}

void ScheduleTableModel::setT5Length(int length) {
    if (length == m_meta.t5Length) return;
    m_meta.t5Length = length;
    edited();
    refreshDerivedColumns();
}

void ScheduleTableModel::setSampler(SamplerKind sampler) {
    if (sampler == m_meta.sampler) return;
    if (!isDdpm() || !isDdpmSampler(sampler)) {
        m_meta.sampler = sampler;
        edited();
        return;
    }
    const int steps = std::max(1, rowCount());
    if (sampler == SamplerKind::Sid) {
        // SiD has CFG distilled in; keep a trained grid and t_init that fit, else SiD-LSG's 625.
        const int tInit = m_meta.sidTInit >= 1 && m_meta.sidTInit <= 999 ? m_meta.sidTInit : 625;
        m_meta.guidance = 1.0;
        m_meta.sampler = sampler;
        m_meta.sidTInit = tInit;
        m_meta.sidGridSteps = std::max(steps, m_meta.sidGridSteps);
        resetDdpmRows(makeSidSchedule(tInit, m_meta.sidGridSteps, steps, ddpmScale(), m_meta.sidNoise));
        return;
    }
    // The pipelines' default CFG (diffusers: SD1.5 7.5, SDXL 5) when coming from SiD's none.
    const double guidance = m_meta.guidance > 1.0                ? m_meta.guidance
                            : m_meta.family == ModelFamily::SD15 ? 7.5
                                                                 : 5.0;
    m_meta.guidance = guidance;
    m_meta.sampler = sampler;
    resetDdpmRows(makeEulerDiscreteSchedule(steps, ddpmScale(), guidance));
}

void ScheduleTableModel::setSidGrid(int tInit, int gridSteps, int steps) {
    if (m_meta.sampler != SamplerKind::Sid) return;
    gridSteps = std::clamp(gridSteps, 1, kMaxScheduleSteps);
    steps = std::clamp(steps, 1, gridSteps);
    tInit = std::clamp(tInit, 1, 999);
    m_meta.sidTInit = tInit;
    m_meta.sidGridSteps = gridSteps;
    resetDdpmRows(makeSidSchedule(tInit, gridSteps, steps, ddpmScale(), m_meta.sidNoise));
}

void ScheduleTableModel::setSidNoise(SidNoise noise) {
    if (noise == m_meta.sidNoise) return;
    m_meta.sidNoise = noise;
    edited();
}

void ScheduleTableModel::setDdpmSteps(int steps) {
    if (m_meta.sampler == SamplerKind::Sid) {
        setSidGrid(m_meta.sidTInit, m_meta.sidGridSteps, steps);
    } else if (m_meta.sampler == SamplerKind::EulerDiscrete) {
        resetDdpmRows(
            makeEulerDiscreteSchedule(std::clamp(steps, 1, kMaxScheduleSteps), ddpmScale(), m_meta.guidance));
    }
}

bool ScheduleTableModel::timestepsCustom() const {
    if (!isDdpm()) return false;
    const Schedule s = schedule();
    try {
        return s.timesteps != ddpmGeneratedTimesteps(s);
    } catch (const std::exception&) {
        return true;  // no grid fits (steps > K): whatever is listed is the user's
    }
}

std::optional<int> ScheduleTableModel::timestepAt(int row) const {
    if (row < 0 || row >= rowCount()) return std::nullopt;
    return m_rows[static_cast<std::size_t>(row)].timestep;
}

void ScheduleTableModel::resetDdpmRows(const Schedule& generated) {
    beginResetModel();
    m_rows.assign(generated.scales.size(), Row{});
    for (std::size_t i = 0; i < m_rows.size(); ++i) {
        m_rows[i].scale = generated.scales[i];
        m_rows[i].timestep = generated.timesteps.at(i);
        refreshNoiseLevel(m_rows[i]);
    }
    m_finalSigma = 0.0;
    revalidate();
    endResetModel();
    Q_EMIT scheduleChanged();
    if (valid() != m_lastValid) {
        m_lastValid = valid();
        Q_EMIT validityChanged(m_lastValid);
    }
}

void ScheduleTableModel::refreshNoiseLevel(Row& row) const {
    row.sigma.reset();
    if (!row.timestep) return;
    const double level = ddpmSigmasOf({*row.timestep}).front();
    if (level >= 0.0) row.sigma = level;  // -1: outside the model's 0..999, flagged on the timestep
}

int ScheduleTableModel::ddpmScale() const {
    for (const Row& r : m_rows)
        if (r.scale && *r.scale > 0) return *r.scale;
    return m_meta.family == ModelFamily::SD15 ? 64 : 128;  // 512 px / 1024 px, the models' native sizes
}

int ScheduleTableModel::pasteTimesteps(const QString& text, int row) {
    std::vector<double> values;
    QString bad;
    if (!parseNumbers(text, &values, &bad)) {
        m_pasteError = tr("'%1' is not a number").arg(bad);
        return 0;
    }
    row = qBound(0, row, rowCount());
    if (values.empty() || row + static_cast<int>(values.size()) > rowCount()) {
        m_pasteError = tr("%1 timesteps from step %2 do not fit the %3 steps; set the step count first")
                           .arg(values.size())
                           .arg(row + 1)
                           .arg(rowCount());
        return 0;
    }
    for (double v : values)
        if (v != std::round(v) || std::abs(v) > 1e6) {
            m_pasteError = tr("Timestep %1 is not a whole number").arg(v);
            return 0;
        }
    for (std::size_t i = 0; i < values.size(); ++i) {
        Row& r = m_rows[static_cast<std::size_t>(row) + i];
        r.timestep = static_cast<int>(values[i]);
        refreshNoiseLevel(r);
    }
    edited();
    return static_cast<int>(values.size());
}

void ScheduleTableModel::setT5Override(int length) {
    if (length == m_t5Override) return;
    m_t5Override = length;
    refreshDerivedColumns();
}

void ScheduleTableModel::setLimits(const ScheduleLimits& limits) {
    m_limits = limits;
    revalidate();
    if (rowCount() > 0) Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
    if (valid() != m_lastValid) {
        m_lastValid = valid();
        Q_EMIT validityChanged(m_lastValid);
    }
}

void ScheduleTableModel::setCostModel(const DenoiserShape& shape, double flopsPerSecond, bool calibrated) {
    m_shape = shape;
    if (flopsPerSecond > 0) m_flopsPerSecond = flopsPerSecond;
    m_calibrated = calibrated;
    refreshDerivedColumns();
}

QStringList ScheduleTableModel::problems() const {
    QStringList out;
    for (std::size_t r = 0; r < m_cellIssues.size(); ++r)
        for (int c = 0; c < ColumnCount; ++c)
            if (!m_cellIssues[r][static_cast<std::size_t>(c)].isEmpty())
                out << tr("Step %1, %2: %3")
                           .arg(r + 1)
                           .arg(c == ScaleColumn      ? tr("scale")
                                : c == TimestepColumn ? QStringLiteral("timesteps[%1]").arg(r)
                                                      : tr("σ"))
                           .arg(m_cellIssues[r][static_cast<std::size_t>(c)]);
    out << m_otherIssues;
    return out;
}

QString ScheduleTableModel::firstProblem() const {
    const QStringList all = problems();
    return all.isEmpty() ? QString() : all.front();
}

QString ScheduleTableModel::cellIssue(int row, int column) const {
    if (row < 0 || static_cast<std::size_t>(row) >= m_cellIssues.size() || column < 0 ||
        column >= ColumnCount)
        return {};
    return m_cellIssues[static_cast<std::size_t>(row)][static_cast<std::size_t>(column)];
}

QString ScheduleTableModel::fieldIssue(const QString& field) const {
    QStringList out;
    for (const auto& i : m_issues)
        if (QString::fromStdString(i.field) == field) out << QString::fromStdString(i.message);
    return out.join(QStringLiteral("; "));
}

int ScheduleTableModel::tokens(int row) const {
    const auto s = scaleAt(row);
    if (!s || *s <= 0) return 0;
    const int side = *s / std::max(1, m_shape.patch());
    return side * side + 77 + effectiveT5Length();
}

std::vector<double> ScheduleTableModel::estimatedStepMs() const {
    Schedule s = schedule();
    s.t5Length = effectiveT5Length();
    for (int& v : s.scales) v = std::max(v, 0);
    const auto flops = scheduleStepFlops(m_shape, s);
    StepTimeEstimator estimator(m_flopsPerSecond);
    std::vector<double> out;
    out.reserve(flops.size());
    for (double f : flops) out.push_back(estimator.predictMs(f));
    return out;
}

double ScheduleTableModel::estimatedTotalMs() const {
    double total = 0;
    for (double v : estimatedStepMs()) total += v;
    return total;
}

int ScheduleTableModel::finalScale() const {
    return m_rows.empty() ? 0 : m_rows.back().scale.value_or(0);
}

std::optional<int> ScheduleTableModel::scaleAt(int row) const {
    if (row < 0 || row >= rowCount()) return std::nullopt;
    return m_rows[static_cast<std::size_t>(row)].scale;
}

std::optional<double> ScheduleTableModel::sigmaAt(int row) const {
    if (row < 0 || row >= rowCount()) return std::nullopt;
    return m_rows[static_cast<std::size_t>(row)].sigma;
}

void ScheduleTableModel::revalidate() {
    m_issues = validateForFamily(schedule(), m_limits);
    m_cellIssues.assign(m_rows.size(), std::vector<QString>(ColumnCount));
    m_otherIssues.clear();
    // Empty cells get their own message instead of the core's "scale 0" / "sigma nan".
    for (std::size_t r = 0; r < m_rows.size(); ++r) {
        if (!m_rows[r].scale)
            m_cellIssues[r][ScaleColumn] = tr("empty: type the latent side of this step, e.g. 64");
        if (!m_rows[r].sigma && !isDdpm())
            m_cellIssues[r][SigmaColumn] = tr("empty: type the noise level of this step, in [0, 1]");
        if (!m_rows[r].timestep && isDdpm())
            m_cellIssues[r][TimestepColumn] = tr("empty: type the integer timestep of this step, e.g. 625");
    }
    const int n = rowCount();
    for (const ScheduleIssue& issue : m_issues) {
        const QString message = QString::fromStdString(issue.message);
        int column = -1;
        if (issue.field == "scales") column = ScaleColumn;
        if (issue.field == "sigmas") column = SigmaColumn;
        if (issue.field == "timesteps") column = TimestepColumn;
        if (column >= 0 && issue.index >= 0 && issue.index < n) {
            QString& cell =
                m_cellIssues[static_cast<std::size_t>(issue.index)][static_cast<std::size_t>(column)];
            const Row& at = m_rows[static_cast<std::size_t>(issue.index)];
            const bool empty = column == ScaleColumn      ? !at.scale
                               : column == TimestepColumn ? !at.timestep
                                                          : !at.sigma;
            if (empty) continue;
            cell = cell.isEmpty() ? message : cell + QStringLiteral("; ") + message;
        } else if (issue.field == "sigmas" && issue.index == n) {
            m_otherIssues << tr("Final σ: %1 (paste the σ list ending in 0)").arg(message);
        } else {
            m_otherIssues << QString::fromStdString(issue.toString());
        }
    }
}

void ScheduleTableModel::edited() {
    revalidate();
    if (rowCount() > 0) Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
    Q_EMIT scheduleChanged();
    if (valid() != m_lastValid) {
        m_lastValid = valid();
        Q_EMIT validityChanged(m_lastValid);
    }
}

void ScheduleTableModel::refreshDerivedColumns() {
    if (rowCount() > 0) Q_EMIT dataChanged(index(0, TokensColumn), index(rowCount() - 1, MsColumn));
}

}  // namespace swd::ui
