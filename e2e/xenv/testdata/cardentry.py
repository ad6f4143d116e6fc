#!/usr/bin/env python3
"""A small Tk card-entry window for pcipause's end-to-end tests.

Usage: cardentry.py TITLE
Prints "FIELD x y w h" (the entry's screen rectangle) on stdout once the window is mapped and
focused, and "LEN n" (how many characters the entry holds) whenever that changes, so a test can
tell keys reach the entry while it is masked. What is typed is never printed or stored.
"""
import sys
import tkinter as tk

title = sys.argv[1] if len(sys.argv) > 1 else "pcipause card entry"
root = tk.Tk()
root.title(title)
root.configure(padx=24, pady=24, bg="white")
font = ("DejaVu Sans Mono", 24)
tk.Label(root, text="Card number", font=font, bg="white").pack(anchor="w")
entry = tk.Entry(root, font=font, width=24, insertofftime=0, relief="solid", bd=1)
entry.pack(anchor="w", pady=(8, 0))


def report():
    root.update_idletasks()
    entry.focus_force()
    print("FIELD %d %d %d %d" % (entry.winfo_rootx(), entry.winfo_rooty(),
                                  entry.winfo_width(), entry.winfo_height()), flush=True)


last = [0]


def report_len(_event=None):
    n = len(entry.get())
    if n != last[0]:
        last[0] = n
        print("LEN %d" % n, flush=True)


entry.bind("<KeyRelease>", report_len)
root.after(300, report)
root.mainloop()
