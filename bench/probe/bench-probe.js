'use strict';
// A node for the benchmark only: hands every msg it receives to the benchmark's callback
// (settings.benchProbe). Loaded from the benchmark's temporary user directory.
module.exports = function (RED) {
  function BenchProbe(def) {
    RED.nodes.createNode(this, def);
    const node = this;
    node.on('input', (msg, send, done) => {
      RED.settings.benchProbe(node.id, msg);
      done();
    });
  }
  RED.nodes.registerType('bench-probe', BenchProbe);
};
