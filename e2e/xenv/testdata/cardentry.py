#!/usr/bin/env python3
"""A small Tk card-entry window for pcipause's end-to-end tests.

Usage: cardentry.py TITLE
Prints "FIELD x y w h" (the entry's screen rectangle) on stdout once the window is mapped and
focused, then runs until closed. Nothing typed is ever printed or stored.
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


root.after(300, report)
root.mainloop()
