'use strict';
// A minimal node for the benchmark only: sends each msg with the benchmark's own pooled nodemailer
// transport (settings.benchNodemailer), then passes the msg on. The floor of any email node inside
// Node-RED: what is left between it and raw nodemailer is Node-RED's own message handling.
module.exports = function (RED) {
  function BenchNodemailer(def) {
    RED.nodes.createNode(this, def);
    this.on('input', (msg, send, done) => {
      RED.settings.benchNodemailer(msg).then(() => {
        send(msg);
        done();
      }, done);
    });
  }
  RED.nodes.registerType('bench-nodemailer', BenchNodemailer);
};
