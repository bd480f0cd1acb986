// The history: every kept run as a thumbnail (newest first). A click (or Enter) recalls the run: its image,
// its steps and every setting. The context menu copies the parameters or deletes the entry.
#pragma once

#include "history_store.h"

#include <QWidget>

class QListWidget;
class QListWidgetItem;

namespace swd::ui {

class HistoryPanel : public QWidget {
    Q_OBJECT

public:
    explicit HistoryPanel(HistoryStore* store, QWidget* parent = nullptr);

    QListWidget* list() const { return m_list; }
    void refresh();

Q_SIGNALS:
    void recallRequested(const swd::ui::HistoryEntry& entry);

private:
    QListWidgetItem* makeItem(const HistoryEntry& entry);
    void showMenu(const QPoint& pos);

    HistoryStore* m_store;
    QListWidget* m_list = nullptr;
};

}  // namespace swd::ui
