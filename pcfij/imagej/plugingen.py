"""The drop-in macro plugins of earlier pcfij versions (``*.ijm``), kept as a baseline.

``pcfij install-plugins`` now installs the Java command host (:mod:`pcfij.imagej.javabuild`);
these generated macros are no longer installed. ``benchmarks/bench_imagej.py`` writes them to
a temporary folder to measure the old path in the same run (a new Python process per call
through ``pcfij imagej-run``). Each is an ImageJ macro whose file name is the command title
with underscores (``pCF_Analysis.ijm`` -> menu command "pCF Analysis"): it builds the dialog,
saves the input image(s) to a temporary folder, calls ``python -m pcfij imagej-run`` and
opens what that wrote.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pcfij.imagej.dialogs import NONE, _digits, _format_default, uses_current_image
from pcfij.params import Command, Param

OUT_DIR = Path(__file__).resolve().parents[2] / "plugins" / "pcfij"


def plugin_filename(title: str) -> str:
    return title.replace(" ", "_") + ".ijm"


def _q(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _var(p: Param) -> str:
    return "v_" + p.name


COMMON = r'''
function pcfijPython() {
	// $PCFIJ_PYTHON, else the interpreter recorded by `pcfij install-plugins`, else python3
	py = call("java.lang.System.getenv", "PCFIJ_PYTHON");
	if (py != "" && File.exists(py)) return py;
	sep = File.separator;
	dirs = newArray(getDirectory("plugins"), getInfo("plugins.dir") + sep + "plugins" + sep,
		getInfo("plugins.dir") + sep, getDirectory("imagej") + "plugins" + sep);
	found = "python3";
	// (no return inside loops: ImageJ 1.53t's interpreter mishandles it in nested calls)
	for (k = 0; k < dirs.length; k++) {
		f = dirs[k] + "pcfij" + sep + "pcfij-python.txt";
		if (found == "python3" && dirs[k] != "") {
			if (File.exists(f)) found = String.trim(File.openAsString(f));
		}
	}
	return found;
}

function pcfijTempDir() {
	dir = getDirectory("temp") + "pcfij-" + d2s(getTime(), 0) + "-" + d2s(random * 1e6, 0);
	dir = dir + File.separator;
	File.makeDirectory(dir);
	return dir;
}

function pcfijSave(title, dir, name) {
	// the image as dir/NAME.tif, its title in dir/titles.txt (output titles derive from it)
	selectImage(title);
	run("Duplicate...", "title=pcfij-input duplicate");
	saveAs("Tiff", dir + name + ".tif");
	close();
	File.append(name + "\t" + title, dir + "titles.txt");
	selectImage(title);
}

function pcfijRun(command, opts, dir) {
	py = pcfijPython();
	showStatus(command + ": running Python...");
	// fixed arguments (exec with an array hangs in ImageJ 1.53t): inputs are dir/NAME.tif
	output = exec(py, "-m", "pcfij", "imagej-run", command, "--options", opts,
		"--input-dir", dir, "-o", dir + "out");
	if (!File.exists(dir + "out" + File.separator + "manifest.txt")) {
		msg = output;
		if (File.exists(dir + "out" + File.separator + "error.txt"))
			msg = File.openAsString(dir + "out" + File.separator + "error.txt");
		exit(command + ": " + String.trim(msg));
	}
	pcfijOpen(dir + "out" + File.separator);
	showStatus(command + ": done");
}

function pcfijOpen(out) {
	lines = split(File.openAsString(out + "manifest.txt"), "\n");
	images = newArray(0);
	for (i = 0; i < lines.length; i++) {
		f = split(lines[i], "\t");
		if (f.length < 2) continue;
		if (f[0] == "table") pcfijTable(out + f[1], f[2]);
		else if (f[0] == "plot") pcfijPlot(out + f[1], f[2], f[3], f[4]);
		else if (f[0] == "log") print(String.trim(File.openAsString(out + f[1])));
		else if (f[0] == "image") images = Array.concat(images, f[1] + "\t" + f[2]);
	}
	for (i = 0; i < images.length; i++) {
		f = split(images[i], "\t");
		open(out + f[0]);
		rename(f[1]);
	}
}

function pcfijTable(path, title) {
	if (title == "Results") {
		// fill the system Results table cell by cell (works in batch mode and -batch)
		rows = split(File.openAsString(path), "\n");
		heads = split(rows[0], ",");
		run("Clear Results");
		for (r = 1; r < rows.length; r++) {
			cells = split(rows[r], ",");
			for (c = 0; c < cells.length && c < heads.length; c++) {
				v = parseFloat(cells[c]);
				if (isNaN(v) && cells[c] != "NaN") setResult(heads[c], r - 1, cells[c]);
				else setResult(heads[c], r - 1, v);
			}
		}
		updateResults();
	} else if (is("batch mode")) {
		// batch mode: Table.open would replace the Results table; leave the CSV file
		print(title + " table: " + path);
	} else {
		name = File.getName(path);
		Table.open(path);
		Table.rename(name, title);
	}
}

function pcfijPlot(path, title, xlabel, ylabel) {
	name = File.getName(path);
	Table.open(path);
	headings = split(Table.headings(name), "\t");
	Plot.create(title, xlabel, ylabel);
	legend = "";
	for (k = 0; k + 1 < headings.length; k += 2) {
		x = Table.getColumn(headings[k], name);
		y = Table.getColumn(headings[k + 1], name);
		s = split(headings[k + 1], "|");
		Plot.setColor(s[2]);
		Plot.add(s[1], x, y);
		if (legend != "") legend = legend + "\n";
		legend = legend + s[0];
	}
	Plot.addLegend(legend);
	Plot.show();
	selectWindow(name);
	run("Close");
}
'''


def macro_for(cmd: Command) -> str:
    """The macro plugin text of one command."""
    single = uses_current_image(cmd)
    lines = [
        f"// {cmd.title} -- pcfij drop-in command (Plugins > pcfij).",
        f"// {cmd.summary}",
        "// Generated by `python -m pcfij.imagej.plugingen` from the command declaration;",
        "// do not edit. Needs pcfij installed in the Python named in pcfij-python.txt",
        "// (written by `pcfij install-plugins`) or in $PCFIJ_PYTHON.",
        'requires("1.52p");',
        f"command = {_q(cmd.title)};",
        'if (nImages == 0) exit(command + ": no image is open; open an image first");',
        "titles = getList(\"image.titles\");",
        "current = getTitle();",
        "ordered = Array.concat(newArray(current), Array.deleteValue(Array.copy(titles), "
        "current));",
        "Dialog.create(command);",
    ]
    shown: list[Param] = []
    req = 0
    for p in cmd.params:
        if not p.imagej or p is single:
            continue
        default = None if p.required else p.default
        if p.kind == "image":
            if p.optional:
                lines.append(f'Dialog.addChoice({_q(p.label)}, Array.concat(newArray('
                             f'{_q(NONE)}), ordered), {_q(NONE)});')
            else:
                lines.append(f"Dialog.addChoice({_q(p.label)}, ordered, "
                             f"ordered[minOf({req}, ordered.length - 1)]);")
                req += 1
        elif p.kind in ("int", "float"):
            value = 0 if default is None else default
            lines.append(f"Dialog.addNumber({_q(p.label)}, {float(value)!r}, "
                         f"{_digits(p, value)}, 8, \"\");")
        elif p.kind == "bool":
            lines.append(f"Dialog.addCheckbox({_q(p.label)}, {'true' if default else 'false'});")
        elif p.kind == "choice":
            items = ", ".join(_q(str(c)) for c in p.choices)
            dflt = str(default if default is not None else p.choices[0])
            lines.append(f"Dialog.addChoice({_q(p.label)}, newArray({items}), {_q(dflt)});")
        else:
            lines.append(f"Dialog.addString({_q(p.label)}, "
                         f"{_q(str(_format_default(p, default) or ''))}, 12);")
        shown.append(p)
    lines.append("Dialog.show();")
    opts = []
    for p in shown:
        v = _var(p)
        if p.kind in ("image", "choice"):
            lines.append(f"{v} = Dialog.getChoice();")
            opts.append(f'" {p.macro_key}=[" + {v} + "]"')
        elif p.kind in ("int", "float"):
            lines.append(f"{v} = Dialog.getNumber();")
            opts.append(f'" {p.macro_key}=" + d2s({v}, 9)')
        elif p.kind == "bool":
            lines.append(f"{v} = Dialog.getCheckbox();")
            opts.append(f'pcfijFlag({v}, " {p.macro_key}")')
        else:
            lines.append(f"{v} = Dialog.getString();")
            opts.append(f'" {p.macro_key}=[" + {v} + "]"')
    lines.append("opts = \"\"" + "".join(f" + {o}" for o in opts) + ";")
    lines.append("dir = pcfijTempDir();")
    for p in cmd.params:
        if p.kind != "image" or not p.imagej:
            continue
        if p is single:
            lines.append(f'pcfijSave(current, dir, "{p.name}");')
        else:
            v = _var(p)
            lines.append(f"if ({v} != {_q(NONE)}) {{")
            lines.append(f'\tpcfijSave({v}, dir, "{p.name}");')
            lines.append("}")
    lines.append("pcfijRun(command, opts, dir);")
    lines.append("")
    lines.append("function pcfijFlag(on, text) { if (on) return text; return \"\"; }")
    return "\n".join(lines) + "\n" + COMMON


def plugin_files() -> dict[str, str]:
    """``{file name: macro text}`` for every ImageJ command that has a runner."""
    from pcfij.commands import imagej_commands
    from pcfij.imagej.runners import find_runner

    out = {}
    for title, cmd in imagej_commands().items():
        if find_runner(cmd) is not None:
            out[plugin_filename(title)] = macro_for(cmd)
    return out


def write_plugins(folder: Path = OUT_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in plugin_files().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_plugins(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR):
        print(p)
