package io.umdev.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.umdev.daemon.UmdevPaths;
import io.umdev.daemon.control.ErrorCode;
import io.umdev.daemon.definition.Definition;
import io.umdev.daemon.definition.DefinitionStore;
import io.umdev.daemon.json.Json;
import io.umdev.daemon.json.JsonFieldException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** The subcommands of {@code umdevctl}, one request to the daemon each. */
final class Subcommands {
    private Subcommands() {
    }

    /** What every subcommand shares: the connection, {@code --json}, reply and error printing. */
    abstract static class ControlCommand implements Callable<Integer> {
        @ParentCommand
        Umdevctl top;

        @Spec
        CommandSpec spec;

        @Option(names = "--json", description = "print the daemon's reply as JSON")
        boolean json;

        /** The request to send; a bad command line throws {@link CommandLine.ParameterException}. */
        abstract ObjectNode request();

        /** Prints a successful result for humans. */
        abstract void print(JsonNode result, PrintWriter out);

        ObjectNode op(String op) {
            ObjectNode request = Json.object();
            request.put("op", op);
            return request;
        }

        CommandLine.ParameterException usage(String message) {
            return new CommandLine.ParameterException(spec.commandLine(), message);
        }

        @Override
        public Integer call() {
            ObjectNode request = request();
            JsonNode reply;
            Path socket = UmdevPaths.controlSocket(top.runDir());
            try (ControlClient client = ControlClient.connect(socket, Duration.ofSeconds(Math.max(1, top.timeoutSeconds)))) {
                reply = client.send(request);
            } catch (ControlClient.UnreachableException e) {
                return unreachable(e);
            }
            PrintWriter out = spec.commandLine().getOut();
            if (reply.path("ok").asBoolean()) {
                JsonNode result = reply.path("result");
                if (json) {
                    out.print(Json.pretty(result));
                } else {
                    print(result, out);
                }
                out.flush();
                return Umdevctl.OK;
            }
            JsonNode error = reply.path("error");
            printError(error);
            if (json) {
                out.print(Json.pretty(reply));
                out.flush();
            }
            ErrorCode code = ErrorCode.fromLabel(error.path("code").asText());
            return code == null ? Umdevctl.FAILED : code.exitStatus();
        }

        int unreachable(ControlClient.UnreachableException e) {
            PrintWriter err = spec.commandLine().getErr();
            err.println("umdevctl " + spec.name() + ": " + e.getMessage());
            err.flush();
            return Umdevctl.UNREACHABLE;
        }

        /** {@code umdevctl start: <message> [field attrs.mtu]} and the hint on its own line. */
        void printError(JsonNode error) {
            PrintWriter err = spec.commandLine().getErr();
            StringBuilder line = new StringBuilder("umdevctl ").append(spec.name()).append(": ")
                    .append(error.path("message").asText("the daemon refused the request"));
            if (error.hasNonNull("field")) {
                line.append(" [field ").append(error.get("field").asText()).append(']');
            }
            err.println(line);
            if (error.hasNonNull("hint")) {
                err.println("  hint: " + error.get("hint").asText());
            }
            err.flush();
        }
    }

    /** Parses repeated {@code NAME=VALUE} options, keeping their order. */
    static LinkedHashMap<String, String> attributes(ControlCommand command, List<String> pairs, String option) {
        LinkedHashMap<String, String> attrs = new LinkedHashMap<>();
        for (String pair : pairs) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw command.usage(option + " '" + pair + "' must be NAME=VALUE, e.g. " + option + " mtu=9000");
            }
            String name = pair.substring(0, eq);
            if (attrs.putIfAbsent(name, pair.substring(eq + 1)) != null) {
                throw command.usage("attribute '" + name + "' is given twice");
            }
        }
        return attrs;
    }

    private static final Set<String> JSONFILE_FIELDS = Set.of("uuid", "parent", "type", "mdev_type", "start", "attrs",
            "driver");

    /**
     * Reads a definition-shaped file ({@code --jsonfile}, like mdevctl's) into the request: uuid, parent,
     * type (or mdev_type), start, attrs, driver. Options given on the command line win over the file.
     */
    static void fromJsonFile(ControlCommand command, Path file, ObjectNode request, boolean allowStart) {
        JsonNode node;
        try {
            node = Json.parse(Files.readString(file));
        } catch (IOException e) {
            throw command.usage("cannot read --jsonfile " + file + ": " + e.getMessage());
        } catch (JsonFieldException e) {
            throw command.usage("--jsonfile " + file + ": " + e.getMessage());
        }
        if (!node.isObject()) {
            throw command.usage("--jsonfile " + file + " must hold a JSON object like a definition");
        }
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            String name = field.getKey().equals("mdev_type") ? "type" : field.getKey();
            if (!JSONFILE_FIELDS.contains(field.getKey()) || (name.equals("start") && !allowStart)) {
                throw command.usage("--jsonfile " + file + ": unexpected field '" + field.getKey() + "'; accepted: "
                        + (allowStart ? "uuid, parent, type (or mdev_type), start, attrs, driver"
                                : "uuid, parent, type (or mdev_type), attrs, driver"));
            }
            if (!request.has(name)) {
                request.set(name, field.getValue());
            }
        }
    }

    // ---------------------------------------------------------------- listings

    @Command(name = "types", description = "List the parents, their types, device APIs, available instances "
            + "and the attributes each type accepts.")
    static final class Types extends ControlCommand {
        @Option(names = {"-p", "--parent"}, paramLabel = "PARENT", description = "only this parent")
        String parent;

        @Override
        ObjectNode request() {
            ObjectNode request = op("types");
            if (parent != null) {
                request.put("parent", parent);
            }
            return request;
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
            for (JsonNode p : result) {
                out.println(p.path("parent").asText());
                for (JsonNode t : p.path("types")) {
                    String availability = t.path("available").isNull() ? "unlimited"
                            : t.path("available").asText() + " of " + t.path("maxInstances").asText() + " available";
                    out.printf("  %s  %s  %s  %s%n", t.path("name").asText(), t.path("deviceApi").asText(),
                            availability, t.path("description").asText());
                    Table table = new Table("    ");
                    for (JsonNode a : t.path("attributes")) {
                        table.row(a.path("name").asText(), a.path("summary").asText(), a.path("description").asText());
                    }
                    if (table.isEmpty()) {
                        out.println("    (no attributes)");
                    }
                    table.print(out);
                }
            }
        }
    }

    @Command(name = "drivers", description = "List the registered drivers and the device APIs they bind.")
    static final class Drivers extends ControlCommand {
        @Override
        ObjectNode request() {
            return op("drivers");
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
            Table table = new Table("").row("NAME", "DEVICE-APIS", "BOUND");
            for (JsonNode d : result) {
                List<String> apis = new ArrayList<>();
                d.path("deviceApis").forEach(a -> apis.add(a.asText()));
                table.row(d.path("name").asText(), String.join(",", apis), d.path("bound").asText());
            }
            table.printIfRows(out);
        }
    }

    @Command(name = "list", aliases = "lsmdev", description = "List running instances, or with --defined the "
            + "stored definitions.")
    static final class ListInstances extends ControlCommand {
        @Option(names = {"-d", "--defined"}, description = "list the definitions instead of the running instances")
        boolean defined;

        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", description = "only this instance")
        String uuid;

        @Option(names = {"-p", "--parent"}, paramLabel = "PARENT", description = "only this parent's instances")
        String parent;

        @Option(names = "--dumpjson", hidden = true, description = "same as --json (mdevctl)")
        boolean dumpJson;

        @Override
        ObjectNode request() {
            json |= dumpJson;
            ObjectNode request = op("list");
            if (defined) {
                request.put("defined", true);
            }
            if (uuid != null) {
                request.put("uuid", uuid);
            }
            if (parent != null) {
                request.put("parent", parent);
            }
            return request;
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
            Table table;
            if (defined) {
                table = new Table("").row("UUID", "PARENT", "TYPE", "START", "RUNNING", "ATTRS");
                for (JsonNode d : result) {
                    table.row(d.path("uuid").asText(), d.path("parent").asText(), d.path("type").asText(),
                            d.path("start").asText(), d.path("running").isNull() ? "?" : d.path("running").asBoolean()
                                    ? "yes" : "no", attrsText(d.path("attrs")));
                }
            } else {
                table = new Table("").row("UUID", "PARENT", "TYPE", "API", "STATE", "DRIVER", "START");
                for (JsonNode i : result) {
                    table.row(i.path("uuid").asText(), i.path("parent").asText(), i.path("type").asText(),
                            i.path("deviceApi").asText(), i.path("state").asText(), i.path("driver").asText("-"),
                            i.path("start").asText("-"));
                }
            }
            table.printIfRows(out);
        }

        /** Without a daemon, the definitions can still be read from the state directory. */
        @Override
        int unreachable(ControlClient.UnreachableException e) {
            if (!defined) {
                return super.unreachable(e);
            }
            Path directory = UmdevPaths.definitions(top.stateDir());
            ArrayNode list = Json.array();
            try {
                for (Definition d : new DefinitionStore(directory).loadAll()) {
                    if ((uuid == null || d.uuid().toString().equalsIgnoreCase(uuid))
                            && (parent == null || d.parent().equals(parent))) {
                        ObjectNode node = d.toJson();
                        node.putNull("running");
                        list.add(node);
                    }
                }
            } catch (IOException io) {
                spec.commandLine().getErr().println("umdevctl list: " + e.getMessage() + "; and reading " + directory
                        + " failed: " + io.getMessage());
                spec.commandLine().getErr().flush();
                return Umdevctl.UNREACHABLE;
            }
            PrintWriter err = spec.commandLine().getErr();
            err.println("umdevctl list: umdevd is not reachable; showing the definitions stored in " + directory);
            err.flush();
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                out.print(Json.pretty(list));
            } else {
                print(list, out);
            }
            out.flush();
            return Umdevctl.OK;
        }
    }

    static String attrsText(JsonNode attrs) {
        List<String> pairs = new ArrayList<>();
        for (JsonNode a : attrs) {
            a.properties().forEach(e -> pairs.add(e.getKey() + "=" + e.getValue().asText()));
        }
        return pairs.isEmpty() ? "-" : String.join(",", pairs);
    }

    @Command(name = "show", description = "Show one instance: its definition, its live state, all its attribute "
            + "values (given and default) and its device's counters.")
    static final class Show extends ControlCommand {
        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", required = true, description = "the instance")
        String uuid;

        @Override
        ObjectNode request() {
            return op("show").put("uuid", uuid);
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
            JsonNode instance = result.path("instance");
            JsonNode definition = result.path("definition");
            JsonNode any = instance.isObject() ? instance : definition;
            Table table = new Table("");
            table.row("uuid:", result.path("uuid").asText());
            table.row("parent:", any.path("parent").asText());
            table.row("type:", any.path("type").asText());
            if (instance.isObject()) {
                table.row("running:", "yes, " + instance.path("state").asText()
                        + (instance.path("driver").isNull() ? "" : " to " + instance.path("driver").asText()));
                table.row("device api:", instance.path("deviceApi").asText());
                table.row("driver override:", instance.path("driverOverride").asText("-"));
                List<String> values = new ArrayList<>();
                Set<String> given = new java.util.HashSet<>();
                instance.path("attrs").forEach(a -> a.fieldNames().forEachRemaining(given::add));
                instance.path("effectiveAttrs").properties().forEach(e -> values.add(e.getKey() + "="
                        + e.getValue().asText() + (given.contains(e.getKey()) ? "" : " (default)")));
                table.row("attributes:", values.isEmpty() ? "-" : String.join(", ", values));
                table.row("dma mappings:", instance.path("dmaMappings").asText());
                if (!instance.path("socket").isMissingNode() && !instance.path("socket").isNull()) {
                    table.row("vfio-user socket:", instance.path("socket").asText());
                    table.row("qemu:", instance.path("qemu").asText());
                }
            } else {
                table.row("running:", "no");
            }
            if (definition.isObject()) {
                table.row("defined:", "yes, start " + definition.path("start").asText());
                table.row("defined attrs:", attrsText(definition.path("attrs")));
                table.row("defined driver:", definition.path("driver").asText("-"));
            } else {
                table.row("defined:", "no");
            }
            JsonNode stats = result.path("statistics");
            if (stats.isObject() && !stats.isEmpty()) {
                List<String> counters = new ArrayList<>();
                stats.properties().forEach(e -> counters.add(e.getKey() + "=" + e.getValue().asText()));
                table.row("statistics:", String.join(", ", counters));
            }
            table.print(out);
        }
    }

    @Command(name = "stats", description = "Counters of the daemon, or of one instance's device (like vdpa dev vstats).")
    static final class Stats extends ControlCommand {
        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", description = "one instance")
        String uuid;

        @Override
        ObjectNode request() {
            ObjectNode request = op("stats");
            if (uuid != null) {
                request.put("uuid", uuid);
            }
            return request;
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
            Table table = new Table("");
            flatten("", result, table);
            table.print(out);
        }

        private static void flatten(String prefix, JsonNode node, Table table) {
            node.properties().forEach(e -> {
                if (e.getValue().isObject()) {
                    flatten(prefix + e.getKey() + ".", e.getValue(), table);
                } else {
                    table.row(prefix + e.getKey() + ":", e.getValue().isNull() ? "-" : e.getValue().asText());
                }
            });
        }
    }

    @Command(name = "version", description = "Show the versions of umdevctl and of the daemon it reaches.")
    static final class DaemonVersion extends ControlCommand {
        @Override
        ObjectNode request() {
            return op("version");
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
            out.println(new Umdevctl.Version().getVersion()[0]);
            out.printf("umdevd %s (control protocol %s, pid %s)%n", result.path("version").asText(),
                    result.path("protocol").asText(), result.path("pid").asText());
        }
    }

    // ---------------------------------------------------------------- lifecycle

    @Command(name = "start", aliases = "create", description = {"Start a defined instance (--uuid alone), or create "
            + "a transient one (--parent and --type, with --uuid or a generated UUID). Prints the UUID."})
    static final class Start extends ControlCommand {
        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", description = "the instance's UUID")
        String uuid;

        @Option(names = {"-p", "--parent"}, paramLabel = "PARENT", description = "the parent (transient instance)")
        String parent;

        @Option(names = {"-t", "--type"}, paramLabel = "TYPE", description = "the parent's type (transient instance)")
        String type;

        @Option(names = "--attr", paramLabel = "NAME=VALUE", description = "an attribute; repeatable, kept in order")
        List<String> attrs = new ArrayList<>();

        @Option(names = "--driver", paramLabel = "DRIVER", description = "the only driver that may bind it")
        String driver;

        @Option(names = "--jsonfile", paramLabel = "FILE", description = "take uuid, parent, type, attrs and driver "
                + "from a definition-shaped JSON file; options win")
        Path jsonFile;

        @Override
        ObjectNode request() {
            ObjectNode request = op("start");
            putIfSet(request, "uuid", uuid);
            putIfSet(request, "parent", parent);
            putIfSet(request, "type", type);
            if (!attrs.isEmpty()) {
                request.set("attrs", Json.attrs(attributes(this, attrs, "--attr")));
            }
            putIfSet(request, "driver", driver);
            if (jsonFile != null) {
                fromJsonFile(this, jsonFile, request, false);
            }
            return request;
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
            out.println(result.path("uuid").asText());
        }
    }

    static void putIfSet(ObjectNode request, String name, String value) {
        if (value != null) {
            request.put(name, value);
        }
    }

    @Command(name = "stop", aliases = "remove", description = "Stop (remove) a running instance; its definition, if "
            + "any, stays.")
    static final class Stop extends ControlCommand {
        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", required = true, description = "the instance")
        String uuid;

        @Override
        ObjectNode request() {
            return op("stop").put("uuid", uuid);
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
        }
    }

    @Command(name = "define", description = {"Define an instance persistently: from --parent and --type, or from the "
            + "running instance --uuid names. Starts manually unless --auto. Prints the UUID."})
    static final class Define extends ControlCommand {
        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", description = "the UUID (generated if omitted)")
        String uuid;

        @Option(names = {"-p", "--parent"}, paramLabel = "PARENT", description = "the parent")
        String parent;

        @Option(names = {"-t", "--type"}, paramLabel = "TYPE", description = "the parent's type")
        String type;

        @Option(names = "--attr", paramLabel = "NAME=VALUE", description = "an attribute; repeatable, kept in order")
        List<String> attrs = new ArrayList<>();

        @Option(names = {"-a", "--auto"}, description = "start it whenever the daemon starts")
        boolean auto;

        @Option(names = "--driver", paramLabel = "DRIVER", description = "the only driver that may bind it")
        String driver;

        @Option(names = "--jsonfile", paramLabel = "FILE", description = "take uuid, parent, type, start, attrs and "
                + "driver from a definition-shaped JSON file; options win")
        Path jsonFile;

        @Override
        ObjectNode request() {
            ObjectNode request = op("define");
            putIfSet(request, "uuid", uuid);
            putIfSet(request, "parent", parent);
            putIfSet(request, "type", type);
            if (!attrs.isEmpty()) {
                request.set("attrs", Json.attrs(attributes(this, attrs, "--attr")));
            }
            if (auto) {
                request.put("start", "auto");
            }
            putIfSet(request, "driver", driver);
            if (jsonFile != null) {
                fromJsonFile(this, jsonFile, request, true);
            }
            return request;
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
            out.println(result.path("uuid").asText());
        }
    }

    @Command(name = "undefine", description = "Remove a definition; a running instance keeps running.")
    static final class Undefine extends ControlCommand {
        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", required = true, description = "the instance")
        String uuid;

        @Override
        ObjectNode request() {
            return op("undefine").put("uuid", uuid);
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
        }
    }

    @Command(name = "modify", description = {"Change a definition (the default), the running instance (--live), or "
            + "both (--live --defined): attributes, start policy, driver override. A running instance's attributes "
            + "change only if its parent supports it."})
    static final class Modify extends ControlCommand {
        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", required = true, description = "the instance")
        String uuid;

        @Option(names = {"--attr", "--addattr"}, paramLabel = "NAME=VALUE",
                description = "set an attribute; repeatable")
        List<String> set = new ArrayList<>();

        @Option(names = "--delattr", paramLabel = "NAME", description = "unset an attribute; repeatable")
        List<String> unset = new ArrayList<>();

        @CommandLine.ArgGroup(exclusive = true)
        StartChoice start;

        static final class StartChoice {
            @Option(names = {"-a", "--auto"}, required = true, description = "start it with the daemon")
            boolean auto;

            @Option(names = "--manual", required = true, description = "start it only when asked")
            boolean manual;
        }

        @CommandLine.ArgGroup(exclusive = true)
        DriverChoice driver;

        static final class DriverChoice {
            @Option(names = "--driver", paramLabel = "DRIVER", required = true,
                    description = "set the driver override")
            String name;

            @Option(names = "--no-driver", required = true, description = "clear the driver override")
            boolean clear;
        }

        @Option(names = {"-l", "--live"}, description = "change the running instance (its driver override takes "
                + "effect at once: it is rebound)")
        boolean live;

        @Option(names = "--defined", description = "with --live, change the definition too")
        boolean defined;

        @Override
        ObjectNode request() {
            if (defined && !live) {
                throw usage("--defined only makes sense with --live (without --live, the definition is what changes)");
            }
            ObjectNode request = op("modify").put("uuid", uuid);
            if (!set.isEmpty()) {
                request.set("set", Json.attrs(attributes(this, set, "--attr")));
            }
            if (!unset.isEmpty()) {
                ArrayNode names = request.putArray("unset");
                unset.forEach(names::add);
            }
            if (start != null) {
                request.put("start", start.auto ? "auto" : "manual");
            }
            if (driver != null) {
                if (driver.clear) {
                    request.put("clearDriver", true);
                } else {
                    request.put("driver", driver.name);
                }
            }
            if (live) {
                request.put("live", true);
            }
            if (defined) {
                request.put("defined", true);
            }
            return request;
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
        }
    }

    // ---------------------------------------------------------------- binding

    @Command(name = "bind", description = "Bind an unbound instance to a driver: the one named, or the one its "
            + "override names, or the first that matches its device API.")
    static final class Bind extends ControlCommand {
        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", required = true, description = "the instance")
        String uuid;

        @Option(names = "--driver", paramLabel = "DRIVER", description = "the driver to bind")
        String driver;

        @Override
        ObjectNode request() {
            ObjectNode request = op("bind").put("uuid", uuid);
            putIfSet(request, "driver", driver);
            return request;
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
            printBinding(result, out);
        }
    }

    static void printBinding(JsonNode instance, PrintWriter out) {
        out.println(instance.path("uuid").asText() + (instance.path("driver").isNull() ? " unbound"
                : " bound to " + instance.path("driver").asText()));
    }

    @Command(name = "unbind", description = "Unbind an instance from its driver; it stays, unbound.")
    static final class Unbind extends ControlCommand {
        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", required = true, description = "the instance")
        String uuid;

        @Override
        ObjectNode request() {
            return op("unbind").put("uuid", uuid);
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
            printBinding(result, out);
        }
    }

    @Command(name = "rebind", description = "Unbind an instance if bound, then bind it again: how a changed driver "
            + "override takes effect.")
    static final class Rebind extends ControlCommand {
        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", required = true, description = "the instance")
        String uuid;

        @Override
        ObjectNode request() {
            return op("rebind").put("uuid", uuid);
        }

        @Override
        void print(JsonNode result, PrintWriter out) {
            printBinding(result, out);
        }
    }

    /** Left-aligned columns, two spaces apart. */
    static final class Table {
        private final String indent;
        private final List<String[]> rows = new ArrayList<>();

        Table(String indent) {
            this.indent = indent;
        }

        Table row(String... cells) {
            rows.add(cells);
            return this;
        }

        boolean isEmpty() {
            return rows.isEmpty();
        }

        /** Prints unless only the heading is there. */
        void printIfRows(PrintWriter out) {
            if (rows.size() > 1) {
                print(out);
            }
        }

        void print(PrintWriter out) {
            int columns = rows.stream().mapToInt(r -> r.length).max().orElse(0);
            int[] widths = new int[columns];
            for (String[] row : rows) {
                for (int i = 0; i < row.length - 1; i++) {
                    widths[i] = Math.max(widths[i], row[i].length());
                }
            }
            for (String[] row : rows) {
                StringBuilder line = new StringBuilder(indent);
                for (int i = 0; i < row.length; i++) {
                    line.append(row[i]);
                    if (i < row.length - 1) {
                        line.append(" ".repeat(widths[i] - row[i].length() + 2));
                    }
                }
                out.println(line.toString().stripTrailing());
            }
        }
    }
}
