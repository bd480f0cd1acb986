#include "main_window.h"

#include <QLabel>

namespace swd::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(QStringLiteral("SwD Studio"));
    auto* label = new QLabel(tr("SwD Studio"), this);
    label->setObjectName(QStringLiteral("placeholder"));
    setCentralWidget(label);
    resize(1280, 800);
}

}  // namespace swd::ui
