#include "history_panel.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QListWidget>
#include <QMenu>
#include <QVBoxLayout>

namespace swd::ui {

namespace {
constexpr int kIdRole = Qt::UserRole + 1;
}

HistoryPanel::HistoryPanel(HistoryStore* store, QWidget* parent) : QWidget(parent), m_store(store) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    m_list = new QListWidget(this);
    m_list->setObjectName(QStringLiteral("historyList"));
    m_list->setViewMode(QListView::IconMode);
    m_list->setIconSize(QSize(80, 80));
    m_list->setGridSize(QSize(104, 80 + 2 * fontMetrics().height() + 10));
    m_list->setResizeMode(QListView::Adjust);
    m_list->setMovement(QListView::Static);
    m_list->setWordWrap(true);
    m_list->setUniformItemSizes(true);
    m_list->setContextMenuPolicy(Qt::CustomContextMenu);
    m_list->setToolTip(
        tr("Every finished run, kept across restarts. Click one to recall its image, steps and "
           "settings; right-click to copy its parameters or delete it."));
    layout->addWidget(m_list);

    auto* remove = new QAction(tr("Delete"), m_list);
    remove->setShortcut(QKeySequence::Delete);
    remove->setShortcutContext(Qt::WidgetShortcut);
    m_list->addAction(remove);
    connect(remove, &QAction::triggered, this, [this] {
        if (QListWidgetItem* item = m_list->currentItem()) m_store->remove(item->data(kIdRole).toString());
    });
    auto recall = [this](QListWidgetItem* item) {
        if (!item) return;
        if (auto e = m_store->find(item->data(kIdRole).toString())) Q_EMIT recallRequested(*e);
    };
    connect(m_list, &QListWidget::itemClicked, this, recall);
    connect(m_list, &QListWidget::itemActivated, this, recall);
    connect(m_list, &QWidget::customContextMenuRequested, this, &HistoryPanel::showMenu);
    connect(m_store, &HistoryStore::entryAdded, this,
            [this](const HistoryEntry& e) { m_list->insertItem(0, makeItem(e)); });
    connect(m_store, &HistoryStore::entryRemoved, this, [this](const QString& id) {
        for (int i = 0; i < m_list->count(); ++i)
            if (m_list->item(i)->data(kIdRole).toString() == id) delete m_list->takeItem(i);
    });
    refresh();
}

void HistoryPanel::refresh() {
    m_list->clear();
    for (const HistoryEntry& e : m_store->entries()) m_list->addItem(makeItem(e));
}

QListWidgetItem* HistoryPanel::makeItem(const HistoryEntry& e) {
    auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(e.thumbnail())),
                                     tr("%1\n%2 s")
                                         .arg(e.label == kFullLabel ? tr("Full res.") : e.label)
                                         .arg(e.timings.totalMs / 1000.0, 0, 'f', 1));
    item->setData(kIdRole, e.id);
    QString prompt = e.prompt;
    if (prompt.size() > 200) prompt = prompt.left(200) + QStringLiteral("…");
    item->setToolTip(tr("%1 · %2\n%3\nseed %4 · %5 · %6 steps%7\n%8")
                         .arg(e.label, e.created.toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")), prompt)
                         .arg(e.seed)
                         .arg(e.scheduleName)
                         .arg(e.completedSteps)
                         .arg(e.cancelled ? tr(" (cancelled)") : QString())
                         .arg(e.modelName));
    item->setTextAlignment(Qt::AlignHCenter | Qt::AlignTop);
    return item;
}

void HistoryPanel::showMenu(const QPoint& pos) {
    QListWidgetItem* item = m_list->itemAt(pos);
    if (!item) return;
    const QString id = item->data(kIdRole).toString();
    QMenu menu(this);
    menu.addAction(tr("Recall"), this, [this, id] {
        if (auto e = m_store->find(id)) Q_EMIT recallRequested(*e);
    });
    menu.addAction(tr("Copy parameters"), this, [this, id] {
        if (auto e = m_store->find(id)) QApplication::clipboard()->setText(e->parametersText);
    });
    menu.addSeparator();
    menu.addAction(tr("Delete"), this, [this, id] { m_store->remove(id); });
    menu.exec(m_list->viewport()->mapToGlobal(pos));
}

}  // namespace swd::ui
