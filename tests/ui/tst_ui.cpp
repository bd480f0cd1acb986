// The desktop application, offscreen.
#include "main_window.h"

#include <QtTest>

class TestUi : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void mainWindowOpens() {
        swd::ui::MainWindow window;
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QCOMPARE(window.windowTitle(), QStringLiteral("SwD Studio"));
        QVERIFY(window.width() >= 1000);
    }
};

QTEST_MAIN(TestUi)
#include "tst_ui.moc"
