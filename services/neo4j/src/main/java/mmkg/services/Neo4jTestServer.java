package mmkg.services;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/**
 * A real Neo4j (neo4j-harness) with Bolt on 127.0.0.1 only, for mmkg's graph tests.
 *
 * <pre>java -cp ... mmkg.services.Neo4jTestServer DATA_DIR [PORT]</pre>
 *
 * The database files live in DATA_DIR/data, so a server killed mid-write and started again on the
 * same DATA_DIR (and PORT) finds what was committed. PORT 0 (the default) picks a free port. With
 * NEO4J_PASSWORD set, authentication is on and user neo4j has that password; unset, it is off.
 * Prints "MMKG_NEO4J_READY bolt://127.0.0.1:PORT" once Bolt accepts connections; runs until killed
 * (SIGTERM shuts the database down cleanly, SIGKILL is a crash).
 */
public final class Neo4jTestServer {
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Neo4jTestServer DATA_DIR [PORT]");
            System.exit(2);
        }
        Path root = Path.of(args[0]).toAbsolutePath();
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        String password = System.getenv("NEO4J_PASSWORD");
        boolean auth = password != null && !password.isEmpty();
        Path work = root.resolve("harness");
        Files.createDirectories(work);

        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(work)
                .withDisabledServer()
                .withConfig(HttpConnector.enabled, false)
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .withConfig(GraphDatabaseSettings.data_directory, root.resolve("data"))
                .withConfig(GraphDatabaseSettings.auth_enabled, auth)
                .build();
        if (auth) {
            try {
                neo4j.databaseManagementService().database("system").executeTransactionally(
                        "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
            } catch (RuntimeException e) {
                // A restart on the same data: the password is already the one given.
                if (!String.valueOf(e.getMessage()).contains("same")) {
                    throw e;
                }
            }
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            neo4j.close();
            stopped.countDown();
        }));
        System.out.println("MMKG_NEO4J_READY " + neo4j.boltURI());
        System.out.flush();
        stopped.await();
    }
}
