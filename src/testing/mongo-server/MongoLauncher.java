// Starts mongo-java-server (in-memory) on 127.0.0.1:<port> for the test harness
// (src/testing/servers.ts). Run as a single-file source program:
//   java -cp <classpath> src/testing/mongo-server/MongoLauncher.java <port>
// Prints one ready line, then blocks until killed or until stdin closes (the parent died).
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.util.List;

public class MongoLauncher {
    // mongo-java-server 1.47 reports at most wire version 8 (its "MONGO_5_0"), but the Node
    // driver 7 refuses anything below wire version 9 (MongoDB 4.4). The version is only reported
    // in hello/buildInfo, so claim 4.4; what the server actually supports is unchanged.
    static final MongoVersion MONGO_4_4 = new MongoVersion() {
        @Override public List<Integer> getVersionArray() { return List.of(4, 4, 0); }
        @Override public int getWireVersion() { return 9; }
    };

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        MongoServer server = new MongoServer(new MemoryBackend().version(MONGO_4_4));
        server.bind("127.0.0.1", port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("mongo-java-server ready on 127.0.0.1:" + port);
        System.out.flush();
        // Orphan guard: the harness keeps our stdin open; EOF means it is gone, so exit too.
        while (System.in.read() != -1) { }
        System.exit(0);
    }
}
