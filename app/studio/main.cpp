// swd-studio: the SwD Studio desktop application.
#include "main_window.h"
#include "util/runtime.h"

#include <QApplication>

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("SwD Studio"));
    QApplication::setOrganizationName(QStringLiteral("swd-studio"));
    QApplication::setApplicationVersion(QStringLiteral(SWD_VERSION));
    swd::configureRuntime();
    swd::ui::MainWindow window;
    window.show();
    return QApplication::exec();
}
