/**
 * The closed list of roadlog error codes.
 *
 * Callers branch on `code`, never on the message text. `retriable` says whether trying the
 * same operation again, unchanged, can succeed (a broker that is down may come back; a config
 * file with a typo will not fix itself). Every code has a line in shared/errors/README.md;
 * test/shared/errors/codes.test.ts fails when one is missing.
 */
export const ERROR_CODES = {
  ROADLOG_ERR_CONFIG_INVALID: { retriable: false, exitCode: 2, summary: 'A config file or environment variable failed validation.' },
  ROADLOG_ERR_CONFIG_NOT_FOUND: { retriable: false, exitCode: 2, summary: 'The config file named on the command line does not exist or cannot be read.' },
  ROADLOG_ERR_CONFIG_PARSE: { retriable: false, exitCode: 2, summary: 'The config file is not valid YAML.' },
  ROADLOG_ERR_RULES_INVALID: { retriable: false, exitCode: 2, summary: 'A hot-path rule pack is not valid YAML or failed validation; the message names the rule and the field.' },
  ROADLOG_ERR_ALERT_NOT_FOUND: { retriable: false, exitCode: 1, summary: 'No alert with that id (or id prefix) in the alert events topic.' },
  ROADLOG_ERR_VEHICLES_INVALID: { retriable: false, exitCode: 2, summary: 'A vehicles CSV (`roadlog vehicles import`) is malformed; the message names the line and the column.' },
  ROADLOG_ERR_USAGE: { retriable: false, exitCode: 2, summary: 'A command-line argument or option is missing or malformed.' },
  ROADLOG_ERR_SCHEMA_INVALID: { retriable: false, exitCode: 1, summary: 'A telemetry payload failed schema validation.' },
  ROADLOG_ERR_PAYLOAD_NOT_JSON: { retriable: false, exitCode: 1, summary: 'A telemetry payload is not valid UTF-8 JSON.' },
  ROADLOG_ERR_KAFKA_UNAVAILABLE: { retriable: true, exitCode: 1, summary: 'No Kafka broker answered within the connection timeout.' },
  ROADLOG_ERR_KAFKA_TOPIC_NOT_FOUND: { retriable: false, exitCode: 1, summary: 'The named Kafka topic does not exist.' },
  ROADLOG_ERR_KAFKA_REQUEST: { retriable: true, exitCode: 1, summary: 'The Kafka cluster rejected or failed a request (the broker\'s error name is in the message).' },
  ROADLOG_ERR_KAFKA_UNACKNOWLEDGED: { retriable: true, exitCode: 1, summary: 'A produce call returned without an acknowledgment for every partition it was given; none of its records may be counted as delivered (send them again).' },
  ROADLOG_ERR_KAFKA_AUTH: { retriable: false, exitCode: 1, summary: 'The Kafka broker refused the SASL login (wrong password, unknown user, or a mechanism the listener does not enable): check `kafka.sasl`.' },
  ROADLOG_ERR_KAFKA_TLS: { retriable: false, exitCode: 1, summary: 'TLS to a Kafka broker failed: its certificate is not signed by a trusted CA (`kafka.tls.caFile`) or does not name the host (`kafka.tls.servername`), or client and listener disagree on TLS (a plaintext client on a TLS port, or the reverse).' },
  ROADLOG_ERR_KAFKA_NO_CLUSTER: { retriable: false, exitCode: 1, summary: 'No --brokers given, ROADLOG_KAFKA_BROKERS unset, and no cluster started by `roadlog kafka start` is recorded.' },
  ROADLOG_ERR_LOG_FULL: { retriable: true, exitCode: 1, summary: 'The edge log reached its disk quota or the disk is full, and its policy is `reject`: the append was refused and nothing of it became visible.' },
  ROADLOG_ERR_LOG_LOCKED: { retriable: false, exitCode: 1, summary: 'Another live process holds the edge log\'s lock file (an agent is running on this data directory).' },
  ROADLOG_ERR_LOG_CORRUPT: { retriable: false, exitCode: 1, summary: 'The edge log has a damaged record or index that cannot be read back (CRC mismatch, bad length); `roadlog log verify` names it.' },
  ROADLOG_ERR_LOG_IO: { retriable: true, exitCode: 1, summary: 'The disk failed a write or fsync of the edge log (EIO and the like): the append was not stored and may be tried again.' },
  ROADLOG_ERR_LOG_CLOSED: { retriable: false, exitCode: 1, summary: 'An operation was attempted on an edge log that is closed or closing.' },
  ROADLOG_ERR_LOG_FORMAT: { retriable: false, exitCode: 1, summary: 'The edge log directory was written by an incompatible format version, or its metadata does not match the config (e.g. a different partition count).' },
  ROADLOG_ERR_LOG_NOT_FOUND: { retriable: false, exitCode: 1, summary: 'The directory given to `roadlog log` holds no edge log: neither meta.json (the log directory itself) nor log/meta.json (the agent\'s edge.dataDir).' },
  ROADLOG_ERR_MQTT_AUTH: { retriable: false, exitCode: 1, summary: 'The MQTT broker refused a client\'s login (bad user name or password, or not authorized).' },
  ROADLOG_ERR_MQTT_UNAVAILABLE: { retriable: true, exitCode: 1, summary: 'The MQTT broker could not be reached, or messages could not be delivered to it in time.' },
  ROADLOG_ERR_ADDRESS_IN_USE: { retriable: true, exitCode: 1, summary: 'Another process already listens on a port roadlog is configured to listen on; the message names the setting (e.g. `edge.mqtt.port 1883`).' },
  ROADLOG_ERR_LISTEN: { retriable: false, exitCode: 1, summary: 'A server could not listen on its configured host and port: a port below 1024 without the privilege, or a host that is not an address of this machine; the message names the setting.' },
  ROADLOG_ERR_FILE_NOT_FOUND: { retriable: false, exitCode: 1, summary: 'A file or directory roadlog was given (on the command line or in the config) does not exist; the message names the setting or argument and the path.' },
  ROADLOG_ERR_FILE_ACCESS: { retriable: false, exitCode: 1, summary: 'A file or directory roadlog was given cannot be read or written (permission denied, read-only file system, a file where a directory is expected, disk full); the message names the setting or argument and the path.' },
  ROADLOG_ERR_SIMULATOR_WORKER: { retriable: false, exitCode: 1, summary: 'A `roadlog sim --workers` worker process failed before finishing its share of the fleet (its own error is printed above; the others are stopped).' },
  ROADLOG_ERR_ARCHIVE_BUSY: { retriable: true, exitCode: 1, summary: 'Another live process runs a compaction or a forget on this archive (its pid is in the message); one at a time.' },
  ROADLOG_ERR_UNAUTHENTICATED: { retriable: false, exitCode: 1, summary: 'A console API call without a live session (HTTP 401), or a login with a wrong user or password.' },
  ROADLOG_ERR_FORBIDDEN: { retriable: false, exitCode: 1, summary: 'A console API call the session may not make (HTTP 403): a viewer acting as an operator, or a state-changing request without its CSRF token.' },
  ROADLOG_ERR_BUSY: { retriable: true, exitCode: 1, summary: 'The console is checking too many logins at once (HTTP 429: each costs a scrypt, 16 MiB of memory); try again in a moment.' },
  ROADLOG_ERR_CLOUD_PACKAGE_MISSING: { retriable: false, exitCode: 1, summary: 'A cloud command (`roadlog cold`, `roadlog report`) needs a package a gateway install leaves out (DuckDB\'s `@duckdb/node-api`): run it from a full install (`npm install` of roadlog, optional dependencies included).' },
  ROADLOG_ERR_SERVICE_NOT_INSTALLED: { retriable: false, exitCode: 1, summary: 'A service binary or jar (Kafka, Mosquitto, InfluxDB) is missing: run `bash infra/bootstrap.sh`.' },
  ROADLOG_ERR_SERVICE_START_FAILED: { retriable: true, exitCode: 1, summary: 'A service process exited or did not become ready within its start timeout (its log file is named in the message).' },
  ROADLOG_ERR_SERVICE_ALREADY_RUNNING: { retriable: false, exitCode: 1, summary: 'A service is already running from this data directory (a live pid file was found).' },
  ROADLOG_ERR_SERVICE_NOT_RUNNING: { retriable: false, exitCode: 1, summary: 'No running service was found for this data directory.' },
  ROADLOG_ERR_TIMEOUT: { retriable: true, exitCode: 1, summary: 'An operation did not finish within its time limit.' },
  ROADLOG_ERR_RUNTIME: { retriable: false, exitCode: 1, summary: 'The Node.js running roadlog is older than the supported line (24): `bash infra/bootstrap.sh` installs one.' },
  ROADLOG_ERR_INTERNAL: { retriable: false, exitCode: 70, summary: 'A bug in roadlog: please report it with the log line.' },
} as const satisfies Record<string, { retriable: boolean; exitCode: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
