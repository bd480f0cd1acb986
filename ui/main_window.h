// The main window of SwD Studio.
#pragma once

#include <QMainWindow>

namespace swd::ui {

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);
};

}  // namespace swd::ui
