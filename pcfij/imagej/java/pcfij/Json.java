package pcfij;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One-line JSON for the worker protocol: objects are Maps, arrays Lists, numbers Doubles
 *  (NaN and Infinity accepted, as Python's json writes them). */
final class Json {
	private final String s;
	private int i;

	private Json(String s) { this.s = s; }

	static Object parse(String text) {
		Json p = new Json(text);
		p.ws();
		Object v = p.value();
		p.ws();
		if (p.i != p.s.length()) throw p.err("trailing text");
		return v;
	}

	private IllegalArgumentException err(String what) {
		return new IllegalArgumentException("bad JSON from the pcfij worker (" + what + " at " + i + ")");
	}

	private void ws() { while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++; }

	private boolean take(String word) {
		if (s.startsWith(word, i)) { i += word.length(); return true; }
		return false;
	}

	private Object value() {
		if (i >= s.length()) throw err("end of text");
		char c = s.charAt(i);
		if (c == '{') return object();
		if (c == '[') return array();
		if (c == '"') return string();
		if (take("true")) return Boolean.TRUE;
		if (take("false")) return Boolean.FALSE;
		if (take("null")) return null;
		if (take("NaN")) return Double.NaN;
		if (take("Infinity")) return Double.POSITIVE_INFINITY;
		if (take("-Infinity")) return Double.NEGATIVE_INFINITY;
		int j = i;
		while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
		if (j == i) throw err("unexpected '" + c + "'");
		return Double.valueOf(s.substring(j, i));
	}

	private Map<String, Object> object() {
		Map<String, Object> m = new LinkedHashMap<String, Object>();
		i++;
		ws();
		if (take("}")) return m;
		while (true) {
			ws();
			String k = string();
			ws();
			if (!take(":")) throw err("':' expected");
			ws();
			m.put(k, value());
			ws();
			if (take(",")) continue;
			if (take("}")) return m;
			throw err("',' or '}' expected");
		}
	}

	private List<Object> array() {
		List<Object> a = new ArrayList<Object>();
		i++;
		ws();
		if (take("]")) return a;
		while (true) {
			ws();
			a.add(value());
			ws();
			if (take(",")) continue;
			if (take("]")) return a;
			throw err("',' or ']' expected");
		}
	}

	private String string() {
		if (s.charAt(i) != '"') throw err("string expected");
		StringBuilder b = new StringBuilder();
		i++;
		while (i < s.length()) {
			char c = s.charAt(i++);
			if (c == '"') return b.toString();
			if (c != '\\') { b.append(c); continue; }
			char e = s.charAt(i++);
			switch (e) {
				case 'n': b.append('\n'); break;
				case 't': b.append('\t'); break;
				case 'r': b.append('\r'); break;
				case 'b': b.append('\b'); break;
				case 'f': b.append('\f'); break;
				case 'u': b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
				default: b.append(e);
			}
		}
		throw err("unterminated string");
	}

	/** Write a value (Map, List, String, Number, Boolean, null) as JSON. */
	static String write(Object v) {
		StringBuilder b = new StringBuilder();
		write(b, v);
		return b.toString();
	}

	@SuppressWarnings("unchecked")
	private static void write(StringBuilder b, Object v) {
		if (v == null) b.append("null");
		else if (v instanceof String) quote(b, (String) v);
		else if (v instanceof Boolean) b.append(v.toString());
		else if (v instanceof Double || v instanceof Float) {
			double d = ((Number) v).doubleValue();
			if (Double.isNaN(d)) b.append("NaN");
			else if (Double.isInfinite(d)) b.append(d > 0 ? "Infinity" : "-Infinity");
			else b.append(Double.toString(d));
		} else if (v instanceof Number) b.append(v.toString());
		else if (v instanceof Map) {
			b.append('{');
			Iterator<Map.Entry<String, Object>> it = ((Map<String, Object>) v).entrySet().iterator();
			while (it.hasNext()) {
				Map.Entry<String, Object> e = it.next();
				quote(b, e.getKey());
				b.append(':');
				write(b, e.getValue());
				if (it.hasNext()) b.append(',');
			}
			b.append('}');
		} else if (v instanceof List) {
			b.append('[');
			List<Object> l = (List<Object>) v;
			for (int k = 0; k < l.size(); k++) {
				if (k > 0) b.append(',');
				write(b, l.get(k));
			}
			b.append(']');
		} else if (v instanceof int[]) {
			int[] a = (int[]) v;
			b.append('[');
			for (int k = 0; k < a.length; k++) { if (k > 0) b.append(','); b.append(a[k]); }
			b.append(']');
		} else quote(b, v.toString());
	}

	private static void quote(StringBuilder b, String s) {
		b.append('"');
		for (int k = 0; k < s.length(); k++) {
			char c = s.charAt(k);
			if (c == '"' || c == '\\') b.append('\\').append(c);
			else if (c == '\n') b.append("\\n");
			else if (c == '\r') b.append("\\r");
			else if (c == '\t') b.append("\\t");
			else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
			else b.append(c);
		}
		b.append('"');
	}
}
