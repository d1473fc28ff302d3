export { TopicsOptionsSchema, type TopicsOptions } from './options.js';
export { topicSpecs, topicName, effectiveConfigs, type TopicSpec, type TopicRole } from './topics.js';
