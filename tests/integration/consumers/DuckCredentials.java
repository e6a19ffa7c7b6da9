// SPDX-License-Identifier: Apache-2.0
// duck's password store read (and written) with java.util.Properties itself, for the tests.
//
// usage: java DuckCredentials.java store FILE   (reads "key<TAB>value" lines from stdin and
//                                               writes them with Properties.store, as duck does)
//        java DuckCredentials.java get FILE SCHEME PORT HOST USER
//                                              (prints the password duck would use, the lookup
//                                               of UnsecureHostPasswordStore.getPassword; exit 3
//                                               when there is none)
//        java DuckCredentials.java dump FILE   (prints every "key<TAB>value", sorted)
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.TreeMap;

public class DuckCredentials {
    public static void main(String[] args) throws Exception {
        final Properties properties = new Properties();
        if (args[0].equals("store")) {
            final BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null; ) {
                final int tab = line.indexOf('\t');
                properties.setProperty(line.substring(0, tab), line.substring(tab + 1));
            }
            try (OutputStream out = new FileOutputStream(args[1])) {
                properties.store(out, "Credentials");
            }
            return;
        }
        try (InputStream in = new FileInputStream(args[1])) {
            properties.load(in);
        }
        if (args[0].equals("get")) {
            final String key = String.format("%s://%s@%s:%d", args[2], args[5], args[4], Integer.parseInt(args[3]));
            final String password = properties.getProperty(key, null);
            if (password == null) {
                System.exit(3);
            }
            System.out.println(password);
            return;
        }
        final TreeMap<String, String> sorted = new TreeMap<>();
        for (String name : properties.stringPropertyNames()) {
            sorted.put(name, properties.getProperty(name));
        }
        sorted.forEach((k, v) -> System.out.println(k + "\t" + v));
    }
}
