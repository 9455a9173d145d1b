"""Draw the PNG twins of the notebooks' Mermaid diagrams (for GitHub and VS Code).

Run from the repository root: ``python notebooks/images/make_diagrams.py``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parent


def box(ax, x, y, w, h, text, color, size=10, weight="normal"):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.15",
                                facecolor=color, edgecolor="#444444", linewidth=1.2))
    ax.text(x + w / 2, y + h - 0.25, text, ha="center", va="top", fontsize=size, weight=weight, wrap=True)


def canvas(height, title, size=12, width=10):
    """A figure with one empty axes, ``width`` by ``height`` units (inches, at this scale), titled."""
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    ax.set_title(title, fontsize=size)
    return fig, ax


def event_loops() -> None:
    fig, ax = canvas(5.6, "Where the event loops run: the kernel, a BackgroundServer thread, a server process")
    box(ax, 0.2, 0.3, 6.2, 4.8, "kernel process (python -m ipykernel)", "#f4f4f4", 11, "bold")
    box(ax, 0.5, 2.4, 2.8, 2.1, "main thread:\nthe kernel's event loop", "#dbe8ff", 10)
    ax.text(1.9, 2.8, "your cells (top-level await),\nChatClient, ChatWidget,\ntasks between cells", ha="center", fontsize=9)
    box(ax, 3.5, 2.4, 2.7, 2.1, "thread chat-server-PORT:\nits own event loop", "#dcf5e3", 10)
    ax.text(4.85, 2.8, "uvicorn + the server\nBackgroundServer(app)\n(mode='thread')", ha="center", fontsize=9)
    box(ax, 0.5, 0.6, 5.7, 1.5, "asyncio.run(...) here fails:\na loop already runs in the main thread", "#ffe3e0", 10)
    box(ax, 7.0, 1.5, 2.8, 3.2, "child process\n(own session)", "#fff4d6", 11, "bold")
    ax.text(8.4, 2.4, "python -m chat_lib._child\nits own main thread\nand event loop\n(mode='process')", ha="center", fontsize=9)
    ax.annotate("", xy=(3.5, 3.4), xytext=(3.3, 3.4), arrowprops=dict(arrowstyle="<->"))
    ax.annotate("", xy=(7.0, 3.4), xytext=(6.2, 3.4), arrowprops=dict(arrowstyle="<->", linestyle="--"))
    ax.text(6.6, 3.55, "HTTP and\nWebSocket on\n127.0.0.1:PORT", ha="center", va="bottom", fontsize=8)
    ax.text(8.4, 1.1, "stdin pipe from the kernel: the lifeline\n(closed: the child exits)", ha="center", fontsize=8.5)
    fig.tight_layout()
    fig.savefig(HERE / "event_loops.png")
    plt.close(fig)


def transports() -> None:
    fig, axes = plt.subplots(1, 3, figsize=(12, 6), dpi=110)
    lanes = [
        ("Long-polling: a held GET per answer", [
            ("C", "GET /poll?after=0", "held"), ("S", '200 ["one"]', ""),
            ("C", "GET /poll?after=1", "held"), ("C2", "POST /publish two", "2nd conn."),
            ("S2", "200 published", ""), ("S", '200 ["two"]', ""),
            ("C", "GET /poll?after=2", "held"), ("S", "... timeout: 200 []", ""),
        ]),
        ("Server-sent events: one response, streamed", [
            ("C", "GET /events", ""), ("S", "200 text/event-stream", ""),
            ("S", "data: tick 1", ""), ("S", "data: tick 2", ""), ("S", "data: tick 3", ""),
            ("C2", "POST ... (to send: another request)", "2nd conn."), ("S", "end of body", ""),
        ]),
        ("WebSocket: one upgraded connection", [
            ("C", "GET /ws  Upgrade: websocket", ""), ("S", "101 Switching Protocols", ""),
            ("C", "client 1, client 2, client 3", "at the same moment as..."),
            ("S", "server 1, server 2, server 3", "...these"),
            ("S", 'close 1000 "done"', ""), ("C", "close 1000", ""),
        ]),
    ]
    for ax, (title, steps) in zip(axes, lanes):
        ax.set_xlim(0, 10)
        ax.set_ylim(len(steps) + 1, -0.5)
        ax.axis("off")
        ax.set_title(title, fontsize=11)
        for x, name in ((1.5, "Client"), (8.5, "Server")):
            ax.text(x, 0, name, ha="center", va="center", weight="bold",
                    bbox=dict(boxstyle="round", facecolor="#eeeeee"))
            ax.plot([x, x], [0.4, len(steps) + 0.8], color="#888888", linewidth=1)
        for row, (who, label, note) in enumerate(steps, start=1):
            to_server = who.startswith("C")
            color = "#2b6cb0" if to_server else "#2f855a"
            style = "-|>" if who in ("C", "S") else "-|>"
            start, end = (1.5, 8.5) if to_server else (8.5, 1.5)
            ax.annotate("", xy=(end, row), xytext=(start, row),
                        arrowprops=dict(arrowstyle=style, color=color,
                                        linestyle="--" if who.endswith("2") else "-"))
            ax.text(5, row - 0.15, label, ha="center", va="bottom", fontsize=9, color=color)
            if note:
                ax.text(5, row + 0.12, note, ha="center", va="top", fontsize=7.5, color="#666666")
    fig.suptitle("Three ways for a server to push (dashed: a second connection)", fontsize=12)
    fig.tight_layout()
    fig.savefig(HERE / "three_ways_to_push.png")
    plt.close(fig)


def lost_ack() -> None:
    """Notebook 06: an acknowledgement is lost, the client sends again, the id is stored once."""
    fig, ax = plt.subplots(figsize=(9, 6), dpi=110)
    steps = [
        ("A", "S", "chat message {id: m-1, text}", "-"),
        ("S", "S", "store m-1 as offset 7", ""),
        ("S", "A", "ack {offset: 7}   LOST", "x"),
        ("S", "B", "(text, 7, meta)", "-"),
        ("A", "A", "no ack within ack_timeout", ""),
        ("A", "S", "chat message {id: m-1, text}  (the retry)", "-"),
        ("S", "S", "m-1 is known: offset 7, stored once", ""),
        ("S", "A", "ack {offset: 7}", "-"),
        ("B", "B", "Bob got it once", ""),
    ]
    x = {"A": 1.2, "S": 5.0, "B": 8.8}
    ax.set_xlim(0, 10)
    ax.set_ylim(len(steps) + 1, -0.6)
    ax.axis("off")
    ax.set_title("A lost acknowledgement: the client sends again, the server stores the id once", fontsize=11)
    for key, name in (("A", "ChatClient (Ada)"), ("S", "Server + log"), ("B", "ChatClient (Bob)")):
        ax.text(x[key], 0, name, ha="center", va="center", weight="bold", bbox=dict(boxstyle="round", facecolor="#eeeeee"))
        ax.plot([x[key], x[key]], [0.4, len(steps) + 0.7], color="#888888", linewidth=1)
    for row, (source, target, label, kind) in enumerate(steps, start=1):
        if source == target:  # a note on one lifeline
            ax.text(x[source], row, label, ha="center", va="center", fontsize=9,
                    bbox=dict(boxstyle="round", facecolor="#fff4d6", edgecolor="#bbbbbb"))
            continue
        lost = kind == "x"
        color = "#c53030" if lost else ("#2b6cb0" if source == "A" else "#2f855a")
        end = x[target] if not lost else (x[source] + x[target]) / 2 - 0.6
        ax.annotate("", xy=(end, row), xytext=(x[source], row),
                    arrowprops=dict(arrowstyle="-|>", color=color, linestyle="--" if lost else "-"))
        if lost:
            ax.text(end, row, "✕", ha="center", va="center", fontsize=14, color=color, weight="bold")
        ax.text((x[source] + x[target]) / 2, row - 0.12, label, ha="center", va="bottom", fontsize=9, color=color)
    fig.tight_layout()
    fig.savefig(HERE / "lost_ack_retry.png")
    plt.close(fig)


def pub_sub() -> None:
    """Notebook 07: one broadcast reaches the clients of every process through Redis pub/sub."""
    fig, ax = canvas(5, "A broadcast across processes: deliver to your own clients, publish for the others", 11)

    def node(cx, cy, text, color, w=1.9, h=0.7):
        ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                    facecolor=color, edgecolor="#444444", linewidth=1.2))
        ax.text(cx, cy, text, ha="center", va="center", fontsize=9)

    def arrow(start, end, label="", dashed=False, color="#333333", below=False):
        ax.annotate("", xy=end, xytext=start,
                    arrowprops=dict(arrowstyle="-|>", color=color, linestyle="--" if dashed else "-", lw=1.2))
        if label:
            ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + (-0.12 if below else 0.12), label,
                    ha="center", va="top" if below else "bottom", fontsize=8, color=color)

    node(1.0, 2.5, "ada\n(browser or ChatClient)", "#dbe8ff", w=1.8)
    node(4.1, 2.5, "server process 1", "#dcf5e3")
    node(6.3, 3.9, "Redis pub/sub", "#ffe3e0")
    node(6.3, 1.1, "shared SQLite log", "#f4f4f4")
    node(8.7, 3.9, "server process 2", "#dcf5e3", w=1.8)
    node(8.7, 2.5, "server process 3", "#dcf5e3", w=1.8)
    node(8.7, 4.75, "bob", "#dbe8ff", w=1.0, h=0.45)
    node(8.7, 1.6, "cyd", "#dbe8ff", w=1.0, h=0.45)
    arrow((1.9, 2.65), (3.15, 2.65), "chat message")
    arrow((3.15, 2.35), (1.9, 2.35), "to its own clients", color="#2f855a", below=True)
    arrow((4.6, 2.85), (5.5, 3.6), "PUBLISH", color="#c53030")
    arrow((7.25, 3.9), (7.8, 3.9), color="#c53030")
    arrow((7.0, 3.6), (7.85, 2.75), "message", color="#c53030")
    arrow((8.7, 4.25), (8.7, 4.52), color="#2f855a")
    arrow((8.7, 2.15), (8.7, 1.83), color="#2f855a")
    arrow((4.4, 2.15), (5.4, 1.3), "stores (offset)", dashed=True)
    arrow((8.2, 2.15), (7.25, 1.35), dashed=True)
    ax.text(5, 0.15, "Redis passes each published message to every process subscribed at that moment, once: "
            "a process that is not listening misses it.", ha="center", fontsize=8.5, color="#555555")
    fig.tight_layout()
    fig.savefig(HERE / "pub_sub_across_processes.png")
    plt.close(fig)


if __name__ == "__main__":
    event_loops()
    transports()
    lost_ack()
    pub_sub()
