// The event browser: topics, consumer groups and their lag, records by offset, find a vehicle, a live tail, dead letters.
import { $, api, duration, el, failure, iso, num, recordView, table } from './ui.js';

let tail;

export function eventsPage() {
  void loadTopics();
  void loadGroups();
}

export function leaveEvents() {
  stopTail();
}

function unauthenticated(err) {
  if (err.status === 401) window.dispatchEvent(new Event('roadlog:unauthenticated'));
  return err.status === 401;
}

async function loadTopics() {
  try {
    const { topics } = await api('/api/topics');
    const rows = topics.map((t) => {
      const b = el('button', { type: 'button', textContent: t.topic, ariaLabel: `Describe topic ${t.topic}` });
      b.addEventListener('click', () => describe(t.topic));
      return [b, t.partitions, t.replicationFactor, t.records];
    });
    $('topics-table').replaceChildren(table('Topics (records held: latest minus earliest offsets)', ['Topic', 'Partitions', 'Replication', 'Records'], rows));
    for (const select of document.querySelectorAll('.topic-list')) {
      const chosen = select.value;
      select.replaceChildren(...topics.map((t) => el('option', { value: t.topic, textContent: t.topic })));
      if (chosen !== '') select.value = chosen;
      else select.value = topics.find((t) => t.topic.endsWith('.telemetry.v1'))?.topic ?? topics[0]?.topic ?? '';
    }
    $('events-status').textContent = `${topics.length} topics.`;
  } catch (err) {
    if (!unauthenticated(err)) failure($('topics-table'), 'Topics', err);
  }
}

async function describe(name) {
  try {
    const d = await api(`/api/topics/${encodeURIComponent(name)}`);
    const configs = Object.entries(d.configs).filter(([, c]) => !c.default);
    $('topic-detail').replaceChildren(
      el('h3', { textContent: `${d.name}: ${d.partitions.length} partitions, replication ${d.replicationFactor}` }),
      table(`Partitions of ${d.name}`, ['Partition', 'Leader', 'Replicas', 'In sync', 'Earliest', 'Latest'], d.partitions.map((p) => [p.partition, p.leader < 0 ? 'none' : p.leader, p.replicas.join(','), p.isr.join(','), p.earliest, p.latest])),
      table(`Configs of ${d.name} (set on the topic or the broker)`, ['Name', 'Value', 'Source'], configs.map(([k, c]) => [k, c.value, c.source])),
    );
  } catch (err) {
    if (!unauthenticated(err)) failure($('topic-detail'), `Topic ${name}`, err);
  }
}

async function loadGroups(event) {
  event?.preventDefault();
  $('groups-table').replaceChildren(el('p', { textContent: 'Reading the groups…' }));
  try {
    const { groups } = await api(`/api/groups?readers=${$('groups-readers').checked ? '1' : '0'}`);
    const rows = groups.flatMap((g) =>
      g.topics.map((t) => [g.groupId, g.state, g.members, t.topic, t.lag, t.lagSeconds === null ? 'unknown' : `${duration(t.lagSeconds)} (${t.clock === 'device' ? 'device time' : 'Kafka time'})`, t.partitions.map((p) => `${p.partition}:${p.lag}`).join(' ')]),
    );
    $('groups-table').replaceChildren(table('Consumer groups: lag in records and in time behind the newest record', ['Group', 'State', 'Members', 'Topic', 'Lag (records)', 'Behind by', 'Per partition (partition:lag)'], rows, (i) => ({ dataset: { group: rows[i][0], topic: rows[i][3] } })));
  } catch (err) {
    if (!unauthenticated(err)) failure($('groups-table'), 'Consumer groups', err);
  }
}

async function readRecords(event) {
  event.preventDefault();
  const q = new URLSearchParams({ topic: $('records-topic').value, partition: $('records-partition').value, limit: $('records-limit').value || '20' });
  if ($('records-offset').value.trim() !== '') q.set('offset', $('records-offset').value.trim());
  $('records').replaceChildren(el('p', { textContent: 'Reading…' }));
  try {
    const r = await api(`/api/records?${q}`);
    $('records').replaceChildren(el('p', { role: 'status', textContent: `${r.topic} partition ${r.partition}: offsets ${r.earliest} to ${r.latest}; ${r.records.length} records from ${r.from}.` }), ...r.records.map(recordView));
  } catch (err) {
    if (!unauthenticated(err)) failure($('records'), 'Records', err);
  }
}

async function findVehicle(event) {
  event.preventDefault();
  const id = $('find-vehicle').value.trim();
  $('find').replaceChildren(el('p', { textContent: `Looking for ${id}…` }));
  try {
    const r = await api(`/api/find?vehicle=${encodeURIComponent(id)}`);
    const summary = `Key ${r.vehicle} → ${r.topic} partition ${r.partition}. ${r.records.length === 0 ? `None of its last ${r.scanned} records is ${r.vehicle}'s.` : `${r.records.length} latest of its records (newest first), from the partition's last ${r.scanned}:`}`;
    $('find').replaceChildren(el('p', { role: 'status', textContent: summary }), ...r.records.map(recordView));
  } catch (err) {
    if (!unauthenticated(err)) failure($('find'), `Find ${id}`, err);
  }
}

function stopTail() {
  if (tail === undefined) return;
  tail.close();
  tail = undefined;
  $('tail-button').textContent = 'Start tail';
  $('tail-status').textContent = 'Tail stopped.';
}

function toggleTail(event) {
  event.preventDefault();
  if (tail !== undefined) return stopTail();
  const q = new URLSearchParams({ topic: $('tail-topic').value });
  if ($('tail-key').value.trim() !== '') q.set('key', $('tail-key').value.trim());
  let count = 0;
  $('tail').replaceChildren();
  $('tail-status').textContent = `Joining ${q.get('topic')}…`;
  tail = new EventSource(`/api/tail?${q}`);
  $('tail-button').textContent = 'Stop tail';
  tail.addEventListener('ready', () => ($('tail-status').textContent = `Tailing ${q.get('topic')}: new records appear at the top.`));
  tail.addEventListener('record', (e) => {
    count += 1;
    $('tail').prepend(recordView(JSON.parse(e.data)));
    while ($('tail').childElementCount > 200) $('tail').lastElementChild.remove();
    $('tail-status').textContent = `Tailing ${q.get('topic')}: ${num(count)} records so far (the newest 200 shown).`;
  });
  tail.addEventListener('error', () => {
    if (tail === undefined) return;
    stopTail();
    $('tail-status').textContent = 'The tail was cut off (the console stopped, or the session ended); start it again.';
  });
  tail.addEventListener('failed', (e) => {
    stopTail();
    $('tail-status').textContent = `The tail failed: ${JSON.parse(e.data).message}`;
  });
}

async function loadDeadLetters(event) {
  event.preventDefault();
  try {
    const r = await api('/api/dead-letters?limit=50');
    const rows = r.records.map((d) => [iso(Number(d.timestamp)), d.reason, d.code, d.message, d.headers['roadlog.gateway'] ?? d.headers['roadlog.mqtt.client'] ?? '-', el('code', { textContent: d.value ?? `(binary) ${d.valueBase64}` }), el('code', { textContent: d.rawBase64 })]);
    $('dead').replaceChildren(table(`Dead letters: the newest ${r.records.length} of ${num(r.total)} in ${r.topic}`, ['Time', 'Reason', 'Code', 'Message', 'From', 'Raw (text)', 'Raw (base64)'], rows));
  } catch (err) {
    if (!unauthenticated(err)) failure($('dead'), 'Dead letters', err);
  }
}

$('groups-form').addEventListener('submit', loadGroups);
$('records-form').addEventListener('submit', readRecords);
$('find-form').addEventListener('submit', findVehicle);
$('tail-form').addEventListener('submit', toggleTail);
$('dead-form').addEventListener('submit', loadDeadLetters);
