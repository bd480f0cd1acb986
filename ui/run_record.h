// Restoring a run from what was stored with it: the SwD Studio record (JSON) written into every image and
// history entry, or, for images from A1111-compatible tools, their "parameters" text. Qt-only header; the
// .cpp uses the core's request parsing.
#pragma once

#include "run_types.h"

namespace swd::ui {

struct RestoredRun {
    RunRequest request;
    QString source;     // "SwD Studio record" or "A1111 parameters"
    QString modelName;  // as recorded (models are stored by name and hash, not by path)
    QString adapterName;
    QString deviceUsed;
    bool fullResolution = false;  // the schedule is a full-resolution one (the editor's second slot)
    QStringList notes;            // what could not be restored, and what to do
};

// Reads the image's metadata. Throws swd::Error naming the file when it cannot be read or carries no
// generation settings.
RestoredRun restoreFromImageFile(const QString& path);
// From the JSON record (`label` names the source in errors). Throws swd::Error.
RestoredRun restoreFromRecordJson(const QString& json, const QString& label);
// From A1111 "parameters" text. Throws swd::Error when the text has no "Steps: ..." line.
RestoredRun restoreFromA1111(const QString& text, const QString& label);

}  // namespace swd::ui
