// Starts GraphiQL on /graphql, with subscriptions over WebSocket. Served from Subreg itself
// (no inline script), so the page's Content-Security-Policy can forbid every other script.
(function () {
  var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  var fetcher = GraphiQL.createFetcher({
    url: '/graphql',
    subscriptionUrl: scheme + location.host + '/graphql',
  });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true }));
})();
