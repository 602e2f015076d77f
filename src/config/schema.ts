import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/**
 * The configuration schema. Section and key names are an interface that
 * scripts and environment variables (`HERALD_<SECTION>_<KEY>`) rely on; keep
 * herald.example.toml in step with every change here.
 */
export const configSchema = z
  .object({
    server: z
      .object({
        domains: z.array(z.string().min(1)).min(1).default(['localhost']),
        data_dir: z.string().min(1).default('./data'),
        listen: z.string().default(''),
      })
      .strict()
      .prefault({}),
    c2s: z
      .object({
        port: port.default(5222),
        direct_tls_port: port.default(5223),
        require_tls: z.boolean().default(true),
        auth_timeout: positiveInt.default(60),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        port: port.default(5280),
        websocket_secure: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    tls: z
      .object({
        cert: z.string().default(''),
        key: z.string().default(''),
        domains: z.record(z.string(), z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict()).default({}),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        allow_plain_without_tls: z.boolean().default(false),
        scram_iterations: z.number().int().min(4096).default(4096),
      })
      .strict()
      .prefault({}),
    registration: z
      .object({
        open: z.boolean().default(false),
        min_password_length: z.number().int().min(1).default(8),
        per_ip_per_minute: positiveInt.default(5),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        driver: z.enum(['sqlite']).default('sqlite'),
        path: z.string().default(''),
        checkpoint_interval_ms: positiveInt.default(100),
        group_commit: z.boolean().default(true),
        thread: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    sm: z
      .object({
        resume_timeout: positiveInt.default(300),
        max_ack_delay: positiveInt.default(30),
        max_queue: positiveInt.default(500),
      })
      .strict()
      .prefault({}),
    mam: z
      .object({
        default: z.enum(['always', 'never', 'roster']).default('always'),
        retention_days: z.number().int().min(0).default(365),
        default_page: positiveInt.default(50),
        max_page: positiveInt.default(250),
      })
      .strict()
      .prefault({}),
    pep: z
      .object({
        max_items: positiveInt.default(256),
        max_nodes: positiveInt.default(500),
      })
      .strict()
      .prefault({}),
    csi: z
      .object({
        max_held: positiveInt.default(256),
      })
      .strict()
      .prefault({}),
    push: z
      .object({
        with_body: z.boolean().default(false),
        with_sender: z.boolean().default(false),
        important_body: z.string().default('New Message!'),
        max_devices: positiveInt.default(5),
        max_errors: positiveInt.default(16),
        max_hibernation_timeout: positiveInt.default(259200),
        batch_interval: z.number().min(0).default(1),
        retry_max_attempts: positiveInt.default(12),
        retry_max_age: positiveInt.default(86400),
        retry_base_delay: z.number().positive().default(1),
        retry_max_delay: positiveInt.default(900),
        response_timeout: positiveInt.default(30),
        dedup_window: positiveInt.default(259200),
      })
      .strict()
      .prefault({}),
    webpush: z
      .object({
        enabled: z.boolean().default(true),
        allow_insecure_loopback: z.boolean().default(false),
        contact: z.string().default(''),
        ttl: z.number().int().min(0).default(86400),
        padding: z.number().int().min(0).max(1024).default(0),
      })
      .strict()
      .prefault({}),
    unifiedpush: z
      .object({
        enabled: z.boolean().default(true),
        acl: z.array(z.string().min(1)).default([]),
        registration_ttl: positiveInt.default(86400),
        endpoint_base: z.string().default(''),
        max_payload_bytes: positiveInt.default(4096),
        max_store_ttl: z.number().int().min(0).default(86400),
        rate_per_minute: positiveInt.default(300),
        delivery_timeout: positiveInt.default(10),
      })
      .strict()
      .prefault({}),
    components: z
      .object({
        port: port.default(5347),
      })
      .strict()
      .prefault({}),
    component: z.array(z.object({ domain: z.string().min(1), secret: z.string().min(8) }).strict()).default([]),
    limits: z
      .object({
        max_stanza_bytes: positiveInt.default(262144),
        max_xml_depth: positiveInt.default(32),
        connections_per_ip_per_minute: positiveInt.default(120),
        auth_failures_per_ip_per_minute: positiveInt.default(10),
        max_offline_messages: positiveInt.default(10000),
        max_roster_items: positiveInt.default(2000),
        max_output_buffer_bytes: positiveInt.default(16777216),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: logLevel.default('info'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type RawConfig = z.input<typeof configSchema>;
