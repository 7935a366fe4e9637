//! The tantivy index: schema, writing, and turning an [`ArchiveQuery`] into tantivy queries.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::Column;
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexSettings, IndexWriter, Order, ReloadPolicy, Score,
    SegmentReader, TantivyDocument, TantivyError, Term,
};

use crate::doc::normalize_message_id;
use crate::query::terms;
use crate::tokenizer::{query_tokens, MailTokenizer, ADDRESS_TOKENIZER, TEXT_TOKENIZER};
use crate::{ArchiveDoc, ArchiveError, ArchiveQuery};

/// Version of the schema and tokenizers this build writes; kept in every commit's payload. Bump
/// it with any change to fields, their options or what the tokenizers emit.
pub const SCHEMA_VERSION: u32 = 1;

/// Indexing memory, shared by the writer's threads. A segment is written each time it fills.
const WRITER_MEMORY: usize = 100_000_000;
const WRITER_THREADS: usize = 2;
/// Most hits one page may ask for.
pub const MAX_PAGE: usize = 10_000;

/// One search result: what a result list shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub id: u64,
    pub at: i64,
    pub direction: String,
    pub from: String,
    pub subject: String,
    /// Relevance (BM25); 0 when sorted newest first, which computes none.
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Messages matching, over all pages.
    pub total: usize,
    pub hits: Vec<Hit>,
}

/// How a page of results is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// Most recently archived first.
    #[default]
    Newest,
    /// Best match first (BM25 over the matched terms).
    Relevance,
}

/// What each commit records besides the documents.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    schema: u32,
    last_id: u64,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    at: Field,
    direction: Field,
    from: Field,
    mail_from: Field,
    to: Field,
    subject: Field,
    body: Field,
    attachments: Field,
    attachment_names: Field,
    message_id: Field,
    size: Field,
}

fn schema() -> (Schema, Fields) {
    let text = |tokenizer: &str, stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_u64_field("id", INDEXED | FAST | STORED),
        at: b.add_i64_field("at", INDEXED | FAST | STORED),
        direction: b.add_text_field("direction", STRING | STORED),
        from: b.add_text_field("from", text(ADDRESS_TOKENIZER, true)),
        mail_from: b.add_text_field("mail_from", text(ADDRESS_TOKENIZER, false)),
        to: b.add_text_field("to", text(ADDRESS_TOKENIZER, false)),
        subject: b.add_text_field("subject", text(TEXT_TOKENIZER, true)),
        body: b.add_text_field("body", text(TEXT_TOKENIZER, false)),
        attachments: b.add_text_field("attachments", text(TEXT_TOKENIZER, false)),
        attachment_names: b.add_text_field("attachment_names", text(TEXT_TOKENIZER, false)),
        message_id: b.add_text_field("message_id", STRING),
        size: b.add_u64_field("size", FAST),
    };
    (b.build(), fields)
}

/// The full-text index of the archive. `Send + Sync`: share it in an `Arc`; searches run
/// concurrently, writes are serialised on the one writer.
pub struct ArchiveIndex {
    reader: IndexReader,
    /// `None` when opened read-only (beside the process that writes).
    writer: Option<Mutex<IndexWriter>>,
    fields: Fields,
    last_id: AtomicU64,
    dir: Option<PathBuf>,
}

impl ArchiveIndex {
    /// Opens the index in `dir` for writing, creating it (and `dir`) if missing. An index
    /// written by a build with another schema is refused: it must be rebuilt.
    pub fn open(dir: &Path) -> Result<Self, ArchiveError> {
        std::fs::create_dir_all(dir).map_err(|source| ArchiveError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (index, created) = open_dir(dir, true)?;
        Self::with_index(index, Some(dir), created, true)
    }

    /// Opens an existing index for searching only, beside a process that writes it: commits
    /// become visible within a moment.
    pub fn open_read_only(dir: &Path) -> Result<Self, ArchiveError> {
        let (index, _) = open_dir(dir, false)?;
        Self::with_index(index, Some(dir), false, false)
    }

    /// A new index in memory, for tests and benchmarks.
    pub fn open_in_ram() -> Result<Self, ArchiveError> {
        let (schema, _) = schema();
        let index = Index::builder()
            .schema(schema)
            .settings(IndexSettings::default())
            .create_in_ram()?;
        Self::with_index(index, None, true, true)
    }

    fn with_index(
        index: Index,
        dir: Option<&Path>,
        created: bool,
        writable: bool,
    ) -> Result<Self, ArchiveError> {
        index
            .tokenizers()
            .register(TEXT_TOKENIZER, MailTokenizer::text());
        index
            .tokenizers()
            .register(ADDRESS_TOKENIZER, MailTokenizer::addresses());
        let last_id = if created {
            0
        } else {
            payload(&index)?.map_or(0, |p| p.last_id)
        };
        let writer = if writable {
            let writer = index
                .writer_with_num_threads(WRITER_THREADS, WRITER_MEMORY)
                .map_err(|e| match e {
                    TantivyError::LockFailure(..) => {
                        ArchiveError::Busy(dir.map(Path::to_path_buf).unwrap_or_default())
                    }
                    e => e.into(),
                })?;
            Some(Mutex::new(writer))
        } else {
            None
        };
        let policy = if writable {
            ReloadPolicy::Manual
        } else {
            ReloadPolicy::OnCommitWithDelay
        };
        let reader = index.reader_builder().reload_policy(policy).try_into()?;
        let (_, fields) = schema();
        let archive = ArchiveIndex {
            reader,
            writer,
            fields,
            last_id: AtomicU64::new(last_id),
            dir: dir.map(Path::to_path_buf),
        };
        if created {
            // Record the schema version at once, so even an index that never got a document
            // says which build made it.
            archive.commit(0)?;
        }
        Ok(archive)
    }

    fn writer(&self) -> Result<MutexGuard<'_, IndexWriter>, ArchiveError> {
        let writer = self.writer.as_ref().ok_or(ArchiveError::ReadOnly)?;
        // A panic elsewhere while holding the lock leaves the writer itself usable.
        Ok(writer.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Adds documents to the writer's buffer; searchable after the next [`Self::commit`]. A
    /// document whose `id` is already indexed replaces it, so replaying after a crash is safe.
    pub fn add(&self, docs: Vec<ArchiveDoc>) -> Result<(), ArchiveError> {
        let writer = self.writer()?;
        for doc in docs {
            writer.delete_term(Term::from_field_u64(self.fields.id, doc.id));
            writer.add_document(self.document(doc))?;
        }
        Ok(())
    }

    /// Removes messages (purged from the archive) at the next commit.
    pub fn remove(&self, ids: &[u64]) -> Result<(), ArchiveError> {
        let writer = self.writer()?;
        for &id in ids {
            writer.delete_term(Term::from_field_u64(self.fields.id, id));
        }
        Ok(())
    }

    /// Makes everything added or removed so far durable and searchable, recording `last_id`
    /// (the archive row the caller has indexed up to) in the same commit.
    pub fn commit(&self, last_id: u64) -> Result<(), ArchiveError> {
        let mut writer = self.writer()?;
        let payload = serde_json::to_string(&Payload {
            schema: SCHEMA_VERSION,
            last_id,
        })
        .map_err(|e| ArchiveError::Index(e.to_string()))?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        drop(writer);
        self.last_id.store(last_id, Ordering::SeqCst);
        self.reader.reload()?;
        Ok(())
    }

    /// The `last_id` of the last commit (0 for a new index): the caller indexes on from the
    /// row after it.
    pub fn last_indexed(&self) -> u64 {
        self.last_id.load(Ordering::SeqCst)
    }

    /// Messages in the index (as of the last commit).
    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// A page of matches, newest first. An empty query is refused.
    pub fn search(
        &self,
        q: &ArchiveQuery,
        limit: usize,
        offset: usize,
    ) -> Result<SearchResults, ArchiveError> {
        self.search_by(q, SortBy::Newest, limit, offset)
    }

    /// A page of matches in the given order. `limit` is capped at [`MAX_PAGE`].
    pub fn search_by(
        &self,
        q: &ArchiveQuery,
        sort: SortBy,
        limit: usize,
        offset: usize,
    ) -> Result<SearchResults, ArchiveError> {
        let query = self.query(q)?;
        let searcher = self.reader.searcher();
        let limit = limit.min(MAX_PAGE);
        // tantivy sizes its heap for `limit + offset` up front: past the last document there is
        // nothing to rank anyway.
        if limit == 0 || offset as u64 >= searcher.num_docs() {
            let total = searcher.search(&query, &Count)?;
            return Ok(SearchResults {
                total,
                hits: Vec::new(),
            });
        }
        let top = TopDocs::with_limit(limit).and_offset(offset);
        let (total, page): (usize, Vec<(Score, DocAddress)>) = match sort {
            SortBy::Newest => {
                let (total, docs) = searcher.search(
                    &query,
                    &(Count, top.order_by_fast_field::<i64>("at", Order::Desc)),
                )?;
                (total, docs.into_iter().map(|(_, a)| (0.0, a)).collect())
            }
            SortBy::Relevance => searcher.search(&query, &(Count, top.order_by_score()))?,
        };
        let mut hits = Vec::with_capacity(page.len());
        for (score, address) in page {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |f: Field| {
                doc.get_first(f)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            hits.push(Hit {
                id: doc
                    .get_first(self.fields.id)
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0),
                at: doc
                    .get_first(self.fields.at)
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0),
                direction: text(self.fields.direction),
                from: text(self.fields.from),
                subject: text(self.fields.subject),
                score,
            });
        }
        Ok(SearchResults { total, hits })
    }

    /// Ids of every match, ascending: for export and for legal holds defined by a search.
    pub fn matching_ids(&self, q: &ArchiveQuery) -> Result<Vec<u64>, ArchiveError> {
        let query = self.query(q)?;
        let mut ids = self.reader.searcher().search(&query, &IdCollector)?;
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Bytes of the index's files (0 in memory).
    pub fn bytes_on_disk(&self) -> u64 {
        let Some(dir) = &self.dir else { return 0 };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    }

    fn document(&self, d: ArchiveDoc) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.id, d.id);
        doc.add_i64(f.at, d.at);
        doc.add_text(f.direction, d.direction.to_ascii_lowercase());
        doc.add_text(f.from, d.from);
        doc.add_text(f.mail_from, d.mail_from);
        for to in d.to {
            doc.add_text(f.to, to);
        }
        doc.add_text(f.subject, d.subject);
        doc.add_text(f.body, d.body);
        doc.add_text(f.attachments, d.attachments);
        for name in d.attachment_names {
            doc.add_text(f.attachment_names, name);
        }
        if !d.message_id.is_empty() {
            doc.add_text(f.message_id, normalize_message_id(&d.message_id));
        }
        doc.add_u64(f.size, d.size);
        doc
    }

    /// The tantivy query for `q`: every part a `Must`; a term searched in several fields is a
    /// `Should` over them. Built from tokens, never from query syntax, so nothing a user types
    /// is interpreted by tantivy's parser.
    fn query(&self, q: &ArchiveQuery) -> Result<BooleanQuery, ArchiveError> {
        if q.is_empty() {
            return Err(ArchiveError::EmptyQuery);
        }
        let f = &self.fields;
        let mut must: Vec<Box<dyn Query>> = Vec::new();
        if let Some(text) = &q.text {
            let fields = [f.subject, f.body, f.attachments, f.attachment_names];
            for term in terms(text)? {
                // Free punctuation is ignored, as `parse` ignores it.
                if let Some(q) = any_field(&fields, &term.text, false) {
                    must.push(q);
                }
            }
        }
        let parts = [
            ("from", &q.from, &[f.from, f.mail_from][..], true),
            ("to", &q.to, &[f.to][..], true),
            ("subject", &q.subject, &[f.subject][..], false),
            ("body", &q.body, &[f.body][..], false),
            (
                "attachment",
                &q.attachment,
                &[f.attachments, f.attachment_names][..],
                false,
            ),
        ];
        for (name, value, fields, addresses) in parts {
            let Some(value) = value else { continue };
            for term in terms(value)? {
                let q = any_field(fields, &term.text, addresses).ok_or_else(|| {
                    ArchiveError::Query(format!("`{name}:{term}` has nothing to search for"))
                })?;
                must.push(q);
            }
        }
        if let Some(d) = q.direction.as_deref().filter(|d| !d.trim().is_empty()) {
            let term = Term::from_field_text(f.direction, &d.trim().to_ascii_lowercase());
            must.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
        }
        if let Some(id) = q.message_id.as_deref().filter(|d| !d.trim().is_empty()) {
            let term = Term::from_field_text(f.message_id, &normalize_message_id(id));
            must.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
        }
        if q.since.is_some() || q.until.is_some() {
            let bound = |t: Option<i64>, inclusive: bool| match t {
                None => Bound::Unbounded,
                Some(t) if inclusive => Bound::Included(Term::from_field_i64(f.at, t)),
                Some(t) => Bound::Excluded(Term::from_field_i64(f.at, t)),
            };
            must.push(Box::new(RangeQuery::new(
                bound(q.since, true),
                bound(q.until, false),
            )));
        }
        if must.is_empty() {
            return Err(ArchiveError::EmptyQuery);
        }
        Ok(BooleanQuery::new(
            must.into_iter().map(|q| (Occur::Must, q)).collect(),
        ))
    }
}

/// One term in any of `fields`: a term query for one token, a phrase over several. `None` when
/// the term has no token.
fn any_field(fields: &[Field], text: &str, addresses: bool) -> Option<Box<dyn Query>> {
    let tokens = query_tokens(text, addresses);
    let first = tokens.first()?.0;
    let mut per_field: Vec<(Occur, Box<dyn Query>)> = fields
        .iter()
        .map(|&field| {
            let q: Box<dyn Query> = if tokens.len() == 1 {
                Box::new(TermQuery::new(
                    Term::from_field_text(field, &tokens[0].1),
                    IndexRecordOption::WithFreqs,
                ))
            } else {
                Box::new(PhraseQuery::new_with_offset(
                    tokens
                        .iter()
                        .map(|(p, t)| (p - first, Term::from_field_text(field, t)))
                        .collect(),
                ))
            };
            (Occur::Should, q)
        })
        .collect();
    if per_field.len() == 1 {
        return per_field.pop().map(|(_, q)| q);
    }
    Some(Box::new(BooleanQuery::new(per_field)))
}

/// Opens (or, if `create`, creates) the index in `dir`, checking it was written by this
/// schema. The flag says whether it was created.
fn open_dir(dir: &Path, create: bool) -> Result<(Index, bool), ArchiveError> {
    let directory = MmapDirectory::open(dir)
        .map_err(|e| ArchiveError::Index(format!("{}: {e}", dir.display())))?;
    let exists = Index::exists(&directory).map_err(|e| ArchiveError::Index(e.to_string()))?;
    let (schema, _) = schema();
    if !exists {
        if !create {
            return Err(ArchiveError::Index(format!(
                "no archive index at {}",
                dir.display()
            )));
        }
        let index = Index::builder()
            .schema(schema)
            .settings(IndexSettings::default())
            .open_or_create(directory)?;
        return Ok((index, true));
    }
    let index = Index::open(directory)?;
    let found = payload(&index).ok().flatten().map(|p| p.schema);
    if found != Some(SCHEMA_VERSION) || index.schema() != schema {
        return Err(ArchiveError::SchemaMismatch {
            dir: dir.to_path_buf(),
            found: found.map_or_else(|| "unknown".to_string(), |v| v.to_string()),
            expected: SCHEMA_VERSION,
        });
    }
    Ok((index, false))
}

fn payload(index: &Index) -> Result<Option<Payload>, ArchiveError> {
    let metas = index.load_metas()?;
    Ok(metas
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok()))
}

/// Collects the `id` fast field of every match.
struct IdCollector;

struct SegmentIds {
    column: Column<u64>,
    ids: Vec<u64>,
}

impl Collector for IdCollector {
    type Fruit = Vec<u64>;
    type Child = SegmentIds;

    fn for_segment(&self, _: u32, segment: &SegmentReader) -> tantivy::Result<SegmentIds> {
        Ok(SegmentIds {
            column: segment.fast_fields().u64("id")?,
            ids: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentIds {
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.ids.extend(self.column.first(doc));
    }

    fn harvest(self) -> Vec<u64> {
        self.ids
    }
}

impl From<TantivyError> for ArchiveError {
    fn from(e: TantivyError) -> Self {
        ArchiveError::Index(e.to_string())
    }
}
