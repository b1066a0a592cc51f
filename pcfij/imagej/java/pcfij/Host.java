package pcfij;

import ij.CompositeImage;
import ij.IJ;
import ij.ImagePlus;
import ij.ImageStack;
import ij.Macro;
import ij.Prefs;
import ij.WindowManager;
import ij.gui.GenericDialog;
import ij.gui.Plot;
import ij.gui.Roi;
import ij.macro.Interpreter;
import ij.measure.Calibration;
import ij.measure.ResultsTable;
import ij.plugin.PlugIn;
import ij.process.LUT;
import ij.text.TextWindow;

import java.awt.Color;
import java.awt.GraphicsEnvironment;
import java.awt.Rectangle;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A pcfij analysis as an ImageJ command (Plugins > pcfij): plugins.config passes the
 *  command title as the argument. The dialog comes from the command's declaration (asked
 *  from the Python worker), so the Recorder records what replays; the analysis runs in the
 *  persistent Python worker; results come back as images, tables, plots and log lines.
 *  Errors: one line, the calling macro is aborted, -batch exits with status 1. */
public class Host implements PlugIn {
	static final String NONE = "*None*";
	private static final Map<String, Map<String, Object>> remembered = new HashMap<String, Map<String, Object>>();
	private static int calls;

	public void run(String arg) {
		String title = arg == null || arg.length() == 0 ? "pcfij" : arg;
		synchronized (Host.class) {
			Worker w = null;
			try {
				w = Worker.get();
				execute(title, w);
			} catch (HostException e) {
				fail(title, e.getMessage());
			} catch (OutOfMemoryError e) {
				fail(title, "Java ran out of memory (Edit > Options > Memory & Threads)");
			} catch (RuntimeException e) {
				if (Macro.MACRO_CANCELED.equals(e.getMessage())) throw e;
				fail(title, e.toString());
			} finally {
				if (w != null) w.clean();
				IJ.showProgress(1.0);
			}
		}
	}

	/** The process id of the running worker ("" if none): for macros and tests,
	 *  {@code call("pcfij.Host.workerPid")}. */
	public static String workerPid() {
		return Worker.pid();
	}

	// ------------------------------------------------------------------ one call
	@SuppressWarnings("unchecked")
	private static final boolean DEBUG = System.getenv("PCFIJ_DEBUG") != null;

	private static void tick(String what, long[] t) {
		if (!DEBUG) return;
		long now = System.nanoTime();
		System.err.println("pcfij: " + what + " " + (now - t[0]) / 1000000.0 + " ms");
		t[0] = now;
	}

	private void execute(String title, Worker w) throws HostException {
		long[] t = {System.nanoTime()};
		IJ.resetEscape();
		String options = Macro.getOptions();
		ImagePlus current = WindowManager.getCurrentImage();
		List<String> titles = openTitles(current);
		Map<String, Object> req = new LinkedHashMap<String, Object>();
		req.put("op", "prepare");
		req.put("command", title);
		req.put("options", options);
		req.put("titles", titles);
		w.send(req);
		Map<String, Object> reply = await(w, -1, title);
		tick("prepare", t);
		Map<String, Object> spec = (Map<String, Object>) reply.get("spec");
		title = (String) spec.get("title");
		// a blank, not empty, string keeps the dialog in macro mode (it must not show)
		if (options != null) Macro.setOptions(reply.get("options") + " ");
		String currentParam = (String) spec.get("current");
		if (((List<Object>) spec.get("images")).size() > 0 && titles.isEmpty())
			throw new HostException("no image is open; open an image first");

		// dialog (filled from the macro options without showing in a macro)
		List<Map<String, Object>> fields = (List<Map<String, Object>>) (List<?>) spec.get("fields");
		Map<String, Object> last = options == null ? remembered.get(title) : null;
		GenericDialog gd = new GenericDialog(title);
		List<String> ordered = new ArrayList<String>(titles);
		if (current != null && ordered.remove(current.getTitle())) ordered.add(0, current.getTitle());
		int req_index = 0;
		for (Map<String, Object> f : fields) {
			String kind = (String) f.get("kind"), label = (String) f.get("label");
			Object dflt = last != null && last.containsKey(f.get("name")) ? last.get(f.get("name")) : f.get("default");
			if (kind.equals("image")) {
				boolean optional = Boolean.TRUE.equals(f.get("optional"));
				List<String> items = new ArrayList<String>();
				if (optional) items.add(NONE);
				items.addAll(ordered);
				String pick = optional ? (dflt != null && items.contains(dflt) ? (String) dflt : NONE)
					: ordered.get(Math.min(req_index++, ordered.size() - 1));
				gd.addChoice(label, items.toArray(new String[0]), pick);
			} else if (kind.equals("number")) {
				gd.addNumericField(label, ((Number) dflt).doubleValue(), ((Number) f.get("digits")).intValue());
			} else if (kind.equals("checkbox")) {
				gd.addCheckbox(label, Boolean.TRUE.equals(dflt));
			} else if (kind.equals("choice")) {
				List<String> items = (List<String>) (List<?>) f.get("choices");
				gd.addChoice(label, items.toArray(new String[0]), String.valueOf(dflt));
			} else {
				gd.addStringField(label, String.valueOf(dflt), 12);
			}
		}
		String summary = (String) spec.get("summary");
		if (options == null && summary != null) gd.addMessage(summary);
		gd.showDialog();
		if (gd.wasCanceled()) {
			IJ.showStatus(title + ": canceled");
			return;
		}
		Map<String, Object> values = new LinkedHashMap<String, Object>();
		Map<String, ImagePlus> images = new LinkedHashMap<String, ImagePlus>();
		for (Map<String, Object> f : fields) {
			String kind = (String) f.get("kind"), name = (String) f.get("name");
			if (kind.equals("image")) {
				String chosen = gd.getNextChoice();
				values.put(name, chosen);
				images.put(name, NONE.equals(chosen) ? null : find(chosen, current));
			} else if (kind.equals("number")) {
				double v = gd.getNextNumber();
				if (Double.isNaN(v)) throw new HostException(f.get("key") + " must be a number");
				values.put(name, v);
			} else if (kind.equals("checkbox")) {
				values.put(name, gd.getNextBoolean());
			} else if (kind.equals("choice")) {
				values.put(name, gd.getNextChoice());
			} else {
				values.put(name, gd.getNextString());
			}
		}
		tick("dialog", t);
		if (options == null) remembered.put(title, new HashMap<String, Object>(values));
		if (currentParam != null) {
			if (current == null) throw new HostException("no image is open; open an image first");
			images.put(currentParam, current);
		}
		for (String name : images.keySet()) values.remove(name);

		// inputs into shared memory, then the run
		int id = ++calls;
		Map<String, Object> descs = new LinkedHashMap<String, Object>();
		for (Map.Entry<String, ImagePlus> e : images.entrySet()) {
			if (e.getValue() == null) continue;
			descs.put(e.getKey(), writeImage(e.getValue(), new File(w.dir, "in-" + e.getKey() + ".raw")));
		}
		req = new LinkedHashMap<String, Object>();
		req.put("op", "run");
		req.put("id", id);
		req.put("command", title);
		req.put("values", values);
		req.put("images", descs);
		IJ.showStatus(title + ": running");
		tick("inputs", t);
		w.send(req);
		Map<String, Object> done = await(w, id, title);
		tick("run", t);
		if (done == null) return;  // canceled
		show((Map<String, Object>) done.get("outputs"));
		tick("show", t);
		IJ.showStatus(title + ": done");
	}

	/** Wait for the answer of a request, showing progress; Esc cancels a run within 1 s. */
	private Map<String, Object> await(Worker w, int id, String title) throws HostException {
		long cancelAt = -1;
		while (true) {
			Map<String, Object> m = w.next(50);
			if (id >= 0 && cancelAt < 0 && IJ.escapePressed()) {
				Map<String, Object> c = new LinkedHashMap<String, Object>();
				c.put("op", "cancel");
				c.put("id", id);
				w.send(c);
				cancelAt = System.currentTimeMillis();
				if (System.getenv("PCFIJ_DEBUG") != null) System.err.println("pcfij: cancel sent " + cancelAt);
				IJ.showStatus(title + ": canceling");
			} else if (cancelAt > 0 && System.currentTimeMillis() - cancelAt > 600) {
				Worker.kill();  // the engine did not reach a check point in time: stop it
				Thread restart = new Thread("pcfij-worker-restart") {  // ready for the next command
					public void run() {
						try { Worker.get(); } catch (HostException e) { }
					}
				};
				restart.setDaemon(true);
				restart.start();
				canceled(title);
				return null;
			}
			if (m == null) continue;
			String ev = (String) m.get("event");
			if ("progress".equals(ev)) IJ.showProgress(((Number) m.get("value")).doubleValue());
			else if ("status".equals(ev)) IJ.showStatus(title + ": " + m.get("text"));
			else if ("error".equals(ev)) throw new HostException((String) m.get("message"));
			else if ("cancelled".equals(ev)) { canceled(title); return null; }
			else return m;
		}
	}

	private void canceled(String title) {
		if (System.getenv("PCFIJ_DEBUG") != null) System.err.println("pcfij: canceled " + System.currentTimeMillis());
		IJ.showStatus(title + ": canceled");
		IJ.showProgress(1.0);
		IJ.log(title + ": canceled (Esc)");
		if (Interpreter.getInstance() != null) Interpreter.abort();
		Macro.abort();
	}

	// ------------------------------------------------------------------ errors
	/** One line; no stale Results; the calling macro stops; -batch exits with status 1. */
	static void fail(String title, String message) {
		String msg = message == null ? "failed" : message.replaceAll("\\s+", " ").trim();
		ResultsTable rt = ResultsTable.getResultsTable();
		if (rt != null && rt.size() > 0) {
			rt.reset();
			if (IJ.isResultsWindow()) rt.show("Results");
		}
		IJ.showStatus(title + ": error");
		IJ.showProgress(1.0);
		if (Prefs.commandLineMacro() && IJ.getInstance() == null) {  // java -jar ij.jar -batch
			System.err.println(title + ": error: " + msg);
			System.err.flush();
			System.exit(1);
		}
		boolean macro = Interpreter.getInstance() != null || Macro.getOptions() != null;
		if (GraphicsEnvironment.isHeadless()) {
			IJ.log(title + ": error: " + msg);
			System.err.println(title + ": error: " + msg);
		} else {
			IJ.error(title, msg);
		}
		if (macro) {
			Interpreter.abort();
			Macro.abort();
			throw new RuntimeException(Macro.MACRO_CANCELED);
		}
	}

	// ------------------------------------------------------------------ inputs
	private static List<String> openTitles(ImagePlus current) {
		List<String> out = new ArrayList<String>();
		int[] ids = WindowManager.getIDList();
		if (ids != null) for (int id : ids) {
			ImagePlus imp = WindowManager.getImage(id);
			if (imp != null && !out.contains(imp.getTitle())) out.add(imp.getTitle());
		}
		if (current != null && !out.contains(current.getTitle())) out.add(0, current.getTitle());
		return out;
	}

	private static ImagePlus find(String title, ImagePlus current) {
		if (current != null && current.getTitle().equals(title)) return current;
		int[] ids = WindowManager.getIDList();
		if (ids != null) for (int id : ids) {
			ImagePlus imp = WindowManager.getImage(id);
			if (imp != null && imp.getTitle().equals(title)) return imp;
		}
		return WindowManager.getImage(title);
	}

	/** A stack's planes into the shared file, in chunks of whole planes (about 16 MB each)
	 *  through one direct buffer per thread: write() fills the file's pages in bulk (a
	 *  mapping would fault them in one by one); big stacks on several threads. */
	static void writePlanes(final FileChannel ch, final ImageStack stack, final int n, final long planeBytes,
			final int bpp) throws IOException {
		final int per = Worker.planesPerBuffer(planeBytes, n);
		final int chunks = (n + per - 1) / per;
		final int nthreads = Worker.copyThreads(n * planeBytes, chunks);
		final java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
		final java.util.concurrent.atomic.AtomicInteger slots = new java.util.concurrent.atomic.AtomicInteger();
		final Throwable[] failed = new Throwable[1];
		Worker.onThreads(new Runnable() {
			public void run() {
				ByteBuffer buf = Worker.buffer(slots.getAndIncrement(), per * planeBytes);
				int c;
				while ((c = next.getAndIncrement()) < chunks) {
					synchronized (failed) { if (failed[0] != null) return; }
					int first = c * per, count = Math.min(per, n - first);
					try {
						buf.clear();
						for (int k = 0; k < count; k++) {
							Object px = stack.getPixels(first + k + 1);
							if (bpp == 1) buf.put((byte[]) px);
							else if (bpp == 2) { buf.asShortBuffer().put((short[]) px); buf.position(buf.position() + (int) planeBytes); }
							else { buf.asFloatBuffer().put((float[]) px); buf.position(buf.position() + (int) planeBytes); }
						}
						buf.flip();
						long pos = first * planeBytes;
						while (buf.hasRemaining()) pos += ch.write(buf, pos);
					} catch (Throwable t) {
						synchronized (failed) { if (failed[0] == null) failed[0] = t; }
						return;
					}
				}
			}
		}, nthreads, "pcfij-write");
		rethrow(failed[0]);
	}

	private static void rethrow(Throwable t) throws IOException {
		if (t instanceof IOException) throw (IOException) t;
		if (t instanceof Error) throw (Error) t;
		if (t != null) throw new IOException(t.toString());
	}

	/** The stack's planes (ImageJ order: C fastest, then Z, then T) into a shared file. */
	static Map<String, Object> writeImage(ImagePlus imp, File file) throws HostException {
		int bits = imp.getBitDepth();
		if (bits == 24) throw new HostException(imp.getTitle() + " is an RGB image; split the channels or convert it "
			+ "to 8-bit, 16-bit or 32-bit (Image > Type) first");
		String dtype = bits == 8 ? "uint8" : bits == 16 ? "uint16" : "float32";
		int bpp = bits == 8 ? 1 : bits == 16 ? 2 : 4;
		ImageStack stack = imp.getStack();
		int w = imp.getWidth(), h = imp.getHeight(), n = stack.getSize();
		long planeBytes = (long) w * h * bpp;
		try {
			// an existing file (the same input slot of an earlier call) is written over in
			// place: its memory pages are reused, which is about twice as fast as fresh ones
			final FileChannel ch = FileChannel.open(file.toPath(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
			try {
				writePlanes(ch, stack, n, planeBytes, bpp);
				ch.truncate((long) n * planeBytes);
			} finally {
				ch.close();
			}
		} catch (IOException e) {
			throw new HostException("cannot write " + imp.getTitle() + " to shared memory (" + e.getMessage()
				+ "); free memory in /dev/shm or use a selection");
		}
		Map<String, Object> d = new LinkedHashMap<String, Object>();
		d.put("path", file.getPath());
		d.put("dtype", dtype);
		d.put("shape", new int[] {imp.getNFrames(), imp.getNSlices(), imp.getNChannels(), h, w});
		d.put("title", imp.getTitle());
		Calibration c = imp.getCalibration();
		Map<String, Object> cal = new LinkedHashMap<String, Object>();
		cal.put("pw", c.pixelWidth);
		cal.put("ph", c.pixelHeight);
		cal.put("pd", c.pixelDepth);
		cal.put("unit", c.getUnit());
		cal.put("fi", c.frameInterval);
		cal.put("tunit", c.getTimeUnit());
		d.put("cal", cal);
		Roi roi = imp.getRoi();
		if (roi != null && roi.isArea()) {
			Rectangle r = roi.getBounds();
			d.put("roi", new int[] {r.x, r.y, r.width, r.height});
		}
		return d;
	}

	// ------------------------------------------------------------------ outputs
	@SuppressWarnings("unchecked")
	private void show(Map<String, Object> out) throws HostException {
		long[] t = {System.nanoTime()};
		List<Map<String, Object>> tables = (List<Map<String, Object>>) (List<?>) out.get("tables");
		Map<String, Object> results = null;
		for (Map<String, Object> tab : tables) {
			if ("Results".equals(tab.get("title"))) results = tab;
			else showTable(tab);
		}
		if (results != null) showTable(results);  // last: the active table afterwards
		tick("  tables", t);
		for (Map<String, Object> p : (List<Map<String, Object>>) (List<?>) out.get("plots")) showPlot(p);
		tick("  plots", t);
		for (Map<String, Object> d : (List<Map<String, Object>>) (List<?>) out.get("images")) readImage(d).show();
		tick("  images", t);
		for (Object line : (List<Object>) out.get("log")) IJ.log(String.valueOf(line));
	}

	@SuppressWarnings("unchecked")
	private static void showTable(Map<String, Object> t) throws HostException {
		String title = (String) t.get("title");
		ResultsTable rt = "Results".equals(title) ? ResultsTable.getResultsTable() : new ResultsTable();
		rt.reset();
		List<List<Object>> cols = (List<List<Object>>) (List<?>) t.get("columns");
		List<Object> labels = (List<Object>) t.get("labels");
		List<Object> data = new ArrayList<Object>();
		int n = 0;
		for (List<Object> c : cols) {
			Object v = c.get(1);
			if (v instanceof Map) v = readDoubles((Map<String, Object>) v);
			data.add(v);
			n = Math.max(n, v instanceof double[] ? ((double[]) v).length : ((List<Object>) v).size());
		}
		for (int r = 0; r < n; r++) rt.incrementCounter();
		if (labels != null) for (int r = 0; r < Math.min(n, labels.size()); r++) rt.setLabel(String.valueOf(labels.get(r)), r);
		for (int k = 0; k < cols.size(); k++) {
			String name = (String) cols.get(k).get(0);
			Object v = data.get(k);
			if (v instanceof double[]) {
				double[] a = (double[]) v;
				if (a.length == n) { rt.setValues(name, a); continue; }
				for (int r = 0; r < a.length; r++) rt.setValue(name, r, a[r]);
				continue;
			}
			List<Object> l = (List<Object>) v;
			for (int r = 0; r < l.size(); r++) {
				Object x = l.get(r);
				if (x instanceof Number) rt.setValue(name, r, ((Number) x).doubleValue());
				else if (x instanceof Boolean) rt.setValue(name, r, ((Boolean) x) ? 1 : 0);
				else rt.setValue(name, r, x == null ? "" : String.valueOf(x));
			}
		}
		long[] shown = {System.nanoTime()};
		rt.show(title);
		tick("    rt.show " + title + " (" + n + " rows)", shown);
		if ("Results".equals(title) && IJ.getInstance() == null && !GraphicsEnvironment.isHeadless()
				&& WindowManager.getFrame("Results") == null) {
			// -batch: without a "Results" window, macros' Table.*(..., "Results") and
			// saveAs("Results") would pick another table window; give it one
			TextWindow tw = new TextWindow("Results", rt.getColumnHeadings(), "", 400, 300);
			tw.getTextPanel().setResultsTable(rt);
			tw.getTextPanel().updateDisplay();
		}
	}

	/** A numeric table column from its shared file (little-endian float64). */
	private static double[] readDoubles(Map<String, Object> d) throws HostException {
		File file = new File((String) d.get("f64"));
		int n = ((Number) d.get("n")).intValue();
		double[] a = new double[n];
		try {
			FileChannel ch = FileChannel.open(file.toPath(), StandardOpenOption.READ);
			try {
				MappedByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, 8L * n);
				buf.order(java.nio.ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(a);
				Worker.unmap(buf);
			} finally {
				ch.close();
				file.delete();
			}
		} catch (IOException e) {
			throw new HostException("cannot read a result table from shared memory: " + e.getMessage());
		}
		return a;
	}

	@SuppressWarnings("unchecked")
	private static void showPlot(Map<String, Object> p) throws HostException {
		Plot plot = new Plot((String) p.get("title"), (String) p.get("xlabel"), (String) p.get("ylabel"));
		StringBuilder legend = new StringBuilder();
		for (List<Object> s : (List<List<Object>>) (List<?>) p.get("series")) {
			plot.setColor(color((String) s.get(4), Color.BLUE));
			plot.add((String) s.get(3), doubles(s.get(1)), doubles(s.get(2)));
			if (legend.length() > 0) legend.append('\n');
			legend.append(s.get(0));
		}
		if (legend.length() > 0) plot.addLegend(legend.toString());
		plot.setLimitsToFit(false);
		plot.show();
	}

	/** A plot series' values: a float64 file ({"f64", "n"}) or a JSON list. */
	@SuppressWarnings("unchecked")
	private static double[] doubles(Object o) throws HostException {
		if (o instanceof Map) return readDoubles((Map<String, Object>) o);
		List<Object> v = (List<Object>) o;
		double[] a = new double[v.size()];
		for (int i = 0; i < a.length; i++) a[i] = v.get(i) == null ? Double.NaN : ((Number) v.get(i)).doubleValue();
		return a;
	}

	static Color color(String name, Color dflt) {
		if (name == null) return dflt;
		String n = name.trim().toLowerCase();
		if (n.startsWith("#")) {
			try { return Color.decode(n); } catch (NumberFormatException e) { return dflt; }
		}
		if (n.equals("grays") || n.equals("gray")) return Color.WHITE;
		try {
			return (Color) Color.class.getField(n.toUpperCase()).get(null);
		} catch (Exception e) {
			return dflt;
		}
	}

	/** New plane arrays filled from the file: mapped chunks of about 16 MB copied straight
	 *  into the arrays (one copy), by up to 4 threads for big images (filling new Java
	 *  arrays is bound by the kernel handing out fresh memory, which scales with threads). */
	static Object[] readPlanes(final FileChannel ch, final int n, final int pixels, final int bpp) throws IOException {
		final Object[] planes = new Object[n];
		final long planeBytes = (long) pixels * bpp;
		final int per = Worker.planesPerBuffer(planeBytes, n);
		final int chunks = (n + per - 1) / per;
		final java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
		final Throwable[] failed = new Throwable[1];
		Runnable task = new Runnable() {
			public void run() {
				int c;
				while ((c = next.getAndIncrement()) < chunks) {
					synchronized (failed) { if (failed[0] != null) return; }
					int first = c * per, count = Math.min(per, n - first);
					try {
						MappedByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, first * planeBytes, count * planeBytes);
						buf.order(ByteOrder.nativeOrder());
						for (int k = 0; k < count; k++) {
							buf.position((int) (k * planeBytes));
							if (bpp == 1) { byte[] a = new byte[pixels]; buf.get(a); planes[first + k] = a; }
							else if (bpp == 2) { short[] a = new short[pixels]; buf.asShortBuffer().get(a); planes[first + k] = a; }
							else { float[] a = new float[pixels]; buf.asFloatBuffer().get(a); planes[first + k] = a; }
						}
						Worker.unmap(buf);
					} catch (Throwable t) {
						synchronized (failed) { if (failed[0] == null) failed[0] = t; }
						return;
					}
				}
			}
		};
		Worker.onThreads(task, Worker.copyThreads(n * planeBytes, chunks), "pcfij-read");
		rethrow(failed[0]);
		return planes;
	}

	/** An output image from its shared file: planes in ImageJ order, calibration, labels. */
	@SuppressWarnings("unchecked")
	static ImagePlus readImage(Map<String, Object> d) throws HostException {
		List<Object> shape = (List<Object>) d.get("shape");
		int nt = ((Number) shape.get(0)).intValue(), nz = ((Number) shape.get(1)).intValue();
		int nc = ((Number) shape.get(2)).intValue(), h = ((Number) shape.get(3)).intValue();
		int w = ((Number) shape.get(4)).intValue();
		String dtype = (String) d.get("dtype");
		int bpp = dtype.equals("uint8") ? 1 : dtype.equals("uint16") ? 2 : 4;
		int n = nt * nz * nc;
		long planeBytes = (long) w * h * bpp;
		List<Object> labels = (List<Object>) d.get("labels");
		ImageStack stack = new ImageStack(w, h);
		File file = new File((String) d.get("path"));
		try {
			final FileChannel ch = FileChannel.open(file.toPath(), StandardOpenOption.READ);
			try {
				if (ch.size() < n * planeBytes) throw new IOException("the result file is short");
				Object[] planes = readPlanes(ch, n, w * h, bpp);
				for (int i = 0; i < n; i++)
					stack.addSlice(labels != null && i < labels.size() ? String.valueOf(labels.get(i)) : null, planes[i]);
			} finally {
				ch.close();  // the file stays for the next call's output (Worker.clean)
			}
		} catch (IOException e) {
			throw new HostException("cannot read a result from shared memory: " + e.getMessage());
		}
		ImagePlus imp = new ImagePlus((String) d.get("title"), stack);
		imp.setDimensions(nc, nz, nt);
		int dims = (nc > 1 ? 1 : 0) + (nz > 1 ? 1 : 0) + (nt > 1 ? 1 : 0);
		if (dims > 1 || nc > 1) imp.setOpenAsHyperStack(true);
		Map<String, Object> c = (Map<String, Object>) d.get("cal");
		if (c != null) {
			Calibration cal = imp.getCalibration();
			cal.pixelWidth = ((Number) c.get("pw")).doubleValue();
			cal.pixelHeight = ((Number) c.get("ph")).doubleValue();
			cal.pixelDepth = ((Number) c.get("pd")).doubleValue();
			cal.setUnit((String) c.get("unit"));
			double fi = ((Number) c.get("fi")).doubleValue();
			if (fi > 0) { cal.frameInterval = fi; cal.setTimeUnit("sec"); }
		}
		String info = (String) d.get("info");
		if (info != null && info.length() > 0) imp.setProperty("Info", info);
		if (nc > 1) {
			CompositeImage ci = new CompositeImage(imp, IJ.COMPOSITE);
			List<Object> luts = (List<Object>) d.get("luts");
			if (luts != null) for (int k = 0; k < Math.min(nc, luts.size()); k++)
				ci.setChannelLut(LUT.createLutFromColor(color(String.valueOf(luts.get(k)), Color.WHITE)), k + 1);
			imp = ci;
		}
		return imp;
	}
}
