import ij.IJ;
import ij.ImageJ;
import ij.plugin.frame.Recorder;
import java.awt.Dialog;
import java.awt.Window;
import java.awt.event.KeyEvent;

/** Test driver: ImageJ with its GUI (under Xvfb) runs a macro file as a user would.
 *  Modal dialogs are dismissed and printed ("DIALOG title | text"); optional: Esc after N ms,
 *  the Recorder on (its text printed between RECORDED lines). */
public class PcfijDriver {
	static String text(java.awt.Container c) {
		StringBuilder b = new StringBuilder();
		for (java.awt.Component k : c.getComponents()) {
			if (k instanceof java.awt.Label) b.append(((java.awt.Label) k).getText()).append(' ');
			else if (k instanceof ij.gui.MultiLineLabel) {
				try {
					java.lang.reflect.Field f = ij.gui.MultiLineLabel.class.getDeclaredField("lines");
					f.setAccessible(true);
					for (String s : (String[]) f.get(k)) b.append(s).append(' ');
				} catch (Exception e) { b.append("?"); }
			}
			else if (k instanceof java.awt.Container) b.append(text((java.awt.Container) k));
		}
		return b.toString();
	}

	/** key n0, n1 ... = numeric fields, s0 ... = string fields, c0 ... = choices, b0 ... = checkboxes (true/false). */
	static void fillField(ij.gui.GenericDialog gd, String key, String value) {
		int i = Integer.parseInt(key.substring(1));
		char k = key.charAt(0);
		if (k == 'n') ((java.awt.TextField) gd.getNumericFields().get(i)).setText(value);
		else if (k == 's') ((java.awt.TextField) gd.getStringFields().get(i)).setText(value);
		else if (k == 'c') ((java.awt.Choice) gd.getChoices().get(i)).select(value);
		else if (k == 'b') ((java.awt.Checkbox) gd.getCheckboxes().get(i)).setState(value.equals("true"));
	}

	public static void main(String[] args) throws Exception {
		final String macro = args[0];
		final String arg = args.length > 1 ? args[1] : "";
		final long escAfter = args.length > 2 ? Long.parseLong(args[2]) : -1;
		boolean record = args.length > 3 && args[3].equals("record");
		new ImageJ(ImageJ.NO_SHOW);
		if (record) new Recorder(false);
		final String fill = System.getProperty("pcfij.fill", "");
		final java.util.Set<Window> handled = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<Window, Boolean>());
		Thread watch = new Thread() {
			public void run() {
				while (true) {
					for (Window w : Window.getWindows()) {
						if (w instanceof ij.gui.GenericDialog && w.isVisible() && !(w instanceof ij.gui.YesNoCancelDialog)
								&& ((ij.gui.GenericDialog) w).getButtons()[0] != null && !fill.equals("")) {
							final ij.gui.GenericDialog gd = (ij.gui.GenericDialog) w;
							if (!handled.add(gd)) continue;  // once per dialog
							System.out.println("FILL " + gd.getTitle());
							System.out.flush();
							// let the dialog finish showing, then fill and press OK on the AWT
							// event thread, as a user's clicks arrive (no race with its set-up)
							try {
								Thread.sleep(300);
								java.awt.EventQueue.invokeAndWait(new Runnable() {
									public void run() {
										for (String kv : fill.split(";")) {
											String[] p = kv.split("=", 2);
											fillField(gd, p[0], p.length > 1 ? p[1] : "");
										}
										gd.actionPerformed(new java.awt.event.ActionEvent(gd.getButtons()[0], java.awt.event.ActionEvent.ACTION_PERFORMED, "OK"));
									}
								});
							} catch (Exception e) {
								System.out.println("FILL-FAILED " + e);
							}
							continue;
						}
						if (w instanceof Dialog && w.isVisible() && ((Dialog) w).isModal()) {
							System.out.println("DIALOG " + ((Dialog) w).getTitle() + " | " + text(w).trim());
							System.out.flush();
							w.dispose();
						}
					}
					try { Thread.sleep(100); } catch (InterruptedException e) { return; }
				}
			}
		};
		watch.setDaemon(true);
		watch.start();
		if (escAfter >= 0) {
			Thread esc = new Thread() {
				public void run() {
					// escAfter ms after the status bar first shows the engine computing (the
					// worker's own status: the run is under way whatever the machine's speed)
					try {
						while (true) {
							Thread.sleep(10);
							String text = ImageJ.getStatusBarText();
							if (text != null && text.contains("computing")) break;
						}
						Thread.sleep(escAfter);
					} catch (InterruptedException e) { return; }
					ImageJ ij = IJ.getInstance();
					System.out.println("ESC " + System.currentTimeMillis());
					ij.keyPressed(new KeyEvent(ij, KeyEvent.KEY_PRESSED, System.currentTimeMillis(), 0, KeyEvent.VK_ESCAPE, (char) 27));
				}
			};
			esc.setDaemon(true);
			esc.start();
		}
		Thread sample = new Thread() {  // what the status bar and the progress bar show
			public void run() {
				String last = "";
				double lastX = -1;
				while (true) {
					try { Thread.sleep(20); } catch (InterruptedException e) { return; }
					String text = ImageJ.getStatusBarText();
					if (text != null && !text.equals(last)) System.out.println("STATUS " + (last = text));
					try {
						java.lang.reflect.Field f = ij.gui.ProgressBar.class.getDeclaredField("slowX");
						f.setAccessible(true);
						double x = Math.round(f.getDouble(IJ.getInstance().getProgressBar()) * 10) / 10.0;
						if (x != lastX) System.out.println("PROGRESS " + (lastX = x));
					} catch (Exception e) { }
				}
			}
		};
		sample.setDaemon(true);
		sample.start();
		long t0 = System.currentTimeMillis();
		String click = System.getProperty("pcfij.click");
		for (String m : macro.split(",")) {
			String ret = IJ.runMacroFile(m, arg);
			System.out.println("MACRO-RETURNED " + System.currentTimeMillis() + " " + ret);
		}
		if (click != null) {
			IJ.doCommand(click);
			Thread.sleep(500);
			while (true) {
				boolean running = false;
				for (Thread t : Thread.getAllStackTraces().keySet()) if (t.getName().equals(click) && t.isAlive()) running = true;
				if (!running) break;
				Thread.sleep(100);
			}
			String save = System.getProperty("pcfij.save");
			if (save != null) IJ.runMacro("Table.save(\"" + save + "\", \"Results\");");
		}
		System.out.println("RESULTS-SIZE " + ij.measure.ResultsTable.getResultsTable().size());
		System.out.println("LOG-BEGIN");
		System.out.println(IJ.getLog());
		System.out.println("LOG-END");
		if (record) {
			System.out.println("RECORDED-BEGIN");
			System.out.println(Recorder.getInstance().getText());
			System.out.println("RECORDED-END");
		}
		System.out.flush();
		System.exit(0);
	}
}
