//! Logging: kiln reports what it decides through `tracing`, one target per
//! topic, and `KILN_LOG` chooses what is printed on stderr.
//!
//! Topics ([`TOPICS`]): `dispatch` (target `kiln::dispatch`: each choice of
//! `Backend::Auto` with its predictions) and `cuda` (target `kiln::cuda`:
//! each CUDA compile, PTX or CUBIN, cache origin and times; docs/cuda.md)
//! and `fusion` (target `kiln::fusion`: each kernel an array expression
//! generates, source and IR, once per new expression shape; docs/expr.md)
//! and `dist` (target `kiln::dist`: each slow path of a distributed launch,
//! an array gathered whole or a loop run on every rank; docs/distributed.md)
//! and `wgpu` (target `kiln::wgpu`: the device, and whether its shaders are
//! kiln's exact SPIR-V or wgpu's own translation; docs/wgpu.md).
//!
//! `KILN_LOG` is a comma-separated list of topics (`KILN_LOG=dispatch`,
//! `KILN_LOG=dispatch,cuda`) or of `tracing-subscriber` env-filter
//! directives (`KILN_LOG=kiln=debug`, `KILN_LOG=kiln::cuda=info`); the two
//! mix, and a topic may carry a level (`dispatch=debug`). The first time kiln
//! has something to log and `KILN_LOG` is set, it installs a global
//! subscriber that prints one line per event on stderr: `kiln TOPIC: …`
//! ([`init`] does it up front). A program that installed its own global
//! subscriber before that keeps it: kiln's events go there, filtered by it.

use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The environment variable that selects what is logged.
pub const ENV: &str = "KILN_LOG";

/// The topics `KILN_LOG` may name; topic `t` logs to target `kiln::t`.
pub const TOPICS: &[&str] = &["dispatch", "cuda", "fusion", "dist", "wgpu"];

/// Installs kiln's stderr subscriber when `KILN_LOG` is set. Runs once per
/// process (later calls return at once); does nothing when `KILN_LOG` is
/// unset or a global subscriber is already installed.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(spec) = std::env::var(ENV) else {
            return;
        };
        // Directives that do not parse are left out, with a warning on
        // stderr (env-filter's lossy parse).
        let filter = EnvFilter::builder().parse_lossy(directives(&spec));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .event_format(Lines)
            .try_init();
    });
}

/// The env-filter expression for a `KILN_LOG` value: each topic becomes its
/// target (`dispatch` → `kiln::dispatch`); anything else passes unchanged.
pub fn directives(spec: &str) -> String {
    spec.split([',', ' '])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let name = d.split(['=', '[']).next().unwrap_or(d);
            if TOPICS.contains(&name) {
                format!("kiln::{d}")
            } else {
                d.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One line per event: `kiln TOPIC: message` (with `LEVEL: ` before the
/// message for levels other than INFO), or `TARGET: message` for targets
/// outside kiln. No time stamps or colours: the lines are for reading next
/// to the command's own output and for tests to match.
struct Lines;

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        match meta.target().strip_prefix("kiln::") {
            Some(topic) => write!(writer, "kiln {topic}: ")?,
            None => write!(writer, "{}: ", meta.target())?,
        }
        if *meta.level() != Level::INFO {
            write!(writer, "{}: ", meta.level())?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[test]
    fn topics_become_targets_and_expressions_pass_through() {
        assert_eq!(directives("dispatch"), "kiln::dispatch");
        assert_eq!(directives("dispatch,cuda"), "kiln::dispatch,kiln::cuda");
        assert_eq!(directives(" dispatch , cuda "), "kiln::dispatch,kiln::cuda");
        assert_eq!(directives("dispatch cuda"), "kiln::dispatch,kiln::cuda");
        assert_eq!(directives("kiln=debug"), "kiln=debug");
        assert_eq!(
            directives("cuda=warn,wgpu_core=info"),
            "kiln::cuda=warn,wgpu_core=info"
        );
        assert_eq!(directives(""), "");
    }

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    /// What the events logged by `f` print under the filter `KILN_LOG=spec`.
    fn printed(spec: &str, f: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::builder().parse_lossy(directives(spec)))
            .with_writer(buffer.clone())
            .event_format(Lines)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn log_both() {
        tracing::info!(target: "kiln::dispatch", "saxpy: cpu-serial 1.00 µs -> cpu-serial");
        tracing::info!(target: "kiln::cuda", n = 3, "kernel `k`: ptx");
        tracing::debug!(target: "kiln::cuda", "detail");
    }

    #[test]
    fn the_filter_selects_topics_and_lines_name_them() {
        assert_eq!(
            printed("dispatch", log_both),
            "kiln dispatch: saxpy: cpu-serial 1.00 µs -> cpu-serial\n"
        );
        assert_eq!(
            printed("cuda=info", log_both),
            "kiln cuda: kernel `k`: ptx n=3\n"
        );
        let all = printed("kiln=debug", log_both);
        assert_eq!(all.lines().count(), 3, "{all}");
        assert!(all.ends_with("kiln cuda: DEBUG: detail\n"), "{all}");
        assert_eq!(printed("wgpu_core", log_both), "");
    }
}
