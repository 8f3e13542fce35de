//! TensorBoard event files (`--tensorboard DIR`): one `events.out.tfevents.*` file per run (a
//! resumed run starts a new one, as TensorBoard expects), holding `Event` protobufs in
//! TFRecord frames — the length (u64 LE), the masked CRC-32C of the length, the bytes, the
//! masked CRC-32C of the bytes — as `tf.summary` and PyTorch's `SummaryWriter` write them.
//! Scalars are `simple_value`s; the run's configuration is a text summary (the `text`
//! plugin's string tensor).
//!
//! prost encodes the messages (the few fields used, declared below with its derive: no `.proto`
//! build step); crc32c computes the checksums (hardware CRC-32C where the CPU has it).

use crate::error::{file_error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// `tensorflow.Event`: when, at which step, and what.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The global step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// The file's version line or a summary.
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// What an [`Event`] carries.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// `"brain.Event:2"`, the first event of every file.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Values at this step.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// Tagged values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<Value>,
}

/// `tensorflow.Summary.Value`: a scalar or a tensor under a tag.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// The series' name, e.g. `epoch/val_loss`.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// A scalar.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
    /// A tensor (the text plugin's strings).
    #[prost(message, optional, tag = "8")]
    pub tensor: Option<TensorProto>,
    /// Which plugin shows it.
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
}

/// `tensorflow.SummaryMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    /// The plugin.
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
}

/// `tensorflow.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginData {
    /// E.g. `text`.
    #[prost(string, tag = "1")]
    pub plugin_name: String,
}

/// `tensorflow.TensorProto`, for strings only.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// `DT_STRING` = 7.
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    /// The shape.
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShape>,
    /// The strings.
    #[prost(bytes = "vec", repeated, tag = "8")]
    pub string_val: Vec<Vec<u8>>,
}

/// `tensorflow.TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShape {
    /// The dimensions.
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<Dim>,
}

/// `tensorflow.TensorShapeProto.Dim`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dim {
    /// Its size.
    #[prost(int64, tag = "1")]
    pub size: i64,
}

/// TFRecord's checksum: CRC-32C, rotated right by 15 bits, plus a constant.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let c = crc32c::crc32c(bytes);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One event file, appended to as the run goes.
pub struct EventWriter {
    file: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
}

impl EventWriter {
    /// Creates `dir` if needed and a new event file in it (named as TensorBoard's own:
    /// `events.out.tfevents.<seconds>.<host>.<pid>.<n>`), with its version event written and
    /// flushed, so an unwritable folder fails here, before training.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| file_error(dir, format!("cannot create the TensorBoard folder: {e}")))?;
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty() && !h.contains(['/', '\\']))
            .unwrap_or_else(|| "downhill".into());
        let (file, path) = (0..1000)
            .find_map(|n| {
                let path = dir.join(format!("events.out.tfevents.{secs}.{host}.{}.{n}", std::process::id()));
                std::fs::OpenOptions::new().write(true).create_new(true).open(&path).ok().map(|f| (f, path))
            })
            .ok_or_else(|| file_error(dir, "cannot create a TensorBoard event file in this folder"))?;
        let mut writer = EventWriter { file: std::io::BufWriter::new(file), path };
        writer.write(Event { wall_time: now(), step: 0, what: Some(What::FileVersion("brain.Event:2".into())) })?;
        writer.flush()?;
        Ok(writer)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Scalars at `step`, one event.
    pub fn scalars(&mut self, step: u64, values: &[(&str, f64)]) -> Result<()> {
        let value = values
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(tag, v)| Value { tag: tag.to_string(), simple_value: Some(*v as f32), ..Default::default() })
            .collect();
        self.summary(step, value)
    }

    /// A text (markdown) summary under `tag` at `step`, for TensorBoard's Text tab.
    pub fn text(&mut self, step: u64, tag: &str, text: &str) -> Result<()> {
        let value = Value {
            tag: tag.into(),
            simple_value: None,
            tensor: Some(TensorProto {
                dtype: 7,
                tensor_shape: Some(TensorShape { dim: vec![Dim { size: 1 }] }),
                string_val: vec![text.as_bytes().to_vec()],
            }),
            metadata: Some(SummaryMetadata { plugin_data: Some(PluginData { plugin_name: "text".into() }) }),
        };
        self.summary(step, vec![value])
    }

    /// Writes what is buffered to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(|e| file_error(&self.path, format!("cannot write: {e}")))
    }

    fn summary(&mut self, step: u64, value: Vec<Value>) -> Result<()> {
        if value.is_empty() {
            return Ok(());
        }
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        self.write(Event { wall_time: now(), step, what: Some(What::Summary(Summary { value })) })
    }

    fn write(&mut self, event: Event) -> Result<()> {
        let data = prost::Message::encode_to_vec(&event);
        let len = (data.len() as u64).to_le_bytes();
        let io = |e: std::io::Error| file_error(&self.path, format!("cannot write: {e}"));
        let mut frame = Vec::with_capacity(data.len() + 16);
        frame.extend_from_slice(&len);
        frame.extend_from_slice(&masked_crc(&len).to_le_bytes());
        frame.extend_from_slice(&data);
        frame.extend_from_slice(&masked_crc(&data).to_le_bytes());
        self.file.write_all(&frame).map_err(io)
    }
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Reads every event of a file, checking each frame's two checksums (for tests and tools).
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, format!("cannot read: {e}")))?;
    let (mut at, mut events) = (0usize, Vec::new());
    let bad = |at: usize, what: &str| file_error(path, format!("record at byte {at}: {what}"));
    while at < bytes.len() {
        let head = bytes.get(at..at + 12).ok_or_else(|| bad(at, "cut short"))?;
        let len = u64::from_le_bytes(head[..8].try_into().expect("8 bytes")) as usize;
        if u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")) != masked_crc(&head[..8]) {
            return Err(bad(at, "the length's checksum does not match"));
        }
        let end = at.checked_add(12 + len + 4).filter(|&e| e <= bytes.len()).ok_or_else(|| bad(at, "cut short"))?;
        let data = &bytes[at + 12..end - 4];
        if u32::from_le_bytes(bytes[end - 4..end].try_into().expect("4 bytes")) != masked_crc(data) {
            return Err(bad(at, "the data's checksum does not match"));
        }
        events.push(<Event as prost::Message>::decode(data).map_err(|e| bad(at, &format!("not an Event: {e}")))?);
        at = end;
    }
    Ok(events)
}
