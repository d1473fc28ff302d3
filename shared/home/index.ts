export { roadlogHome } from './home.js';
export { recordLastCluster, readLastCluster, type LastCluster } from './last-cluster.js';
