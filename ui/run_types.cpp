#include "run_types.h"

namespace swd::ui {

namespace {
const QString kPathPrefix = QStringLiteral("path:");
}

QString ModelChoice::modelKey() const {
    switch (kind) {
        case Kind::Automatic:
            return QStringLiteral("auto");
        case Kind::Demo:
            return QStringLiteral("demo");
        case Kind::Path:
            break;
    }
    return kPathPrefix + path;
}

QString ModelChoice::adapterKey() const {
    switch (adapterKind) {
        case AdapterKind::FromPreset:
            return QStringLiteral("preset");
        case AdapterKind::None:
            return QStringLiteral("none");
        case AdapterKind::Path:
            break;
    }
    return kPathPrefix + adapterPath;
}

ModelChoice ModelChoice::fromKeys(const QString& modelKey, const QString& adapterKey) {
    ModelChoice c;
    if (modelKey == QLatin1String("demo")) {
        c.kind = Kind::Demo;
    } else if (modelKey.startsWith(kPathPrefix)) {
        c.kind = Kind::Path;
        c.path = modelKey.mid(kPathPrefix.size());
    }
    if (adapterKey == QLatin1String("none")) {
        c.adapterKind = AdapterKind::None;
    } else if (adapterKey.startsWith(kPathPrefix)) {
        c.adapterKind = AdapterKind::Path;
        c.adapterPath = adapterKey.mid(kPathPrefix.size());
    }
    return c;
}

void registerRunTypes() {
    static const bool once = [] {
        qRegisterMetaType<RunRequest>();
        qRegisterMetaType<StepImage>();
        qRegisterMetaType<RunResult>();
        qRegisterMetaType<DiscoveryReport>();
        return true;
    }();
    (void)once;
}

}  // namespace swd::ui
